/**
 * Issue 15, relayed → direct in fewer round trips on the UDX path: a punched connection's
 * upgrade selects Noise lazily (the multistream-select proposal and Noise's first message go
 * out in one flight, without waiting for the answer), the answer is still checked byte for
 * byte (a peer answering anything else is refused with ERR_UDX_HANDSHAKE), and the punch
 * records where its time went (handshake, upgrade). Real libp2p nodes and real UDP sockets
 * on loopback.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping } from '@libp2p/ping'
import type { Libp2p } from '@libp2p/interface'
import UDX from 'udx-native'
import type { UDXStream } from 'udx-native'
import { udxTransport, UdxEndpoint, UdxTransport } from '../../dist/udx/index.js'

type Node = Libp2p<{ ping: ReturnType<ReturnType<typeof ping>> }>

async function udxNode (): Promise<Node> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/udp/0/x-burrow-udx'] },
    transports: [udxTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { ping: ping() }
  })
  return node as unknown as Node
}

function transportOf (node: Node): UdxTransport {
  const t = (node as unknown as { components: { transportManager: { getTransports: () => unknown[] } } }).components.transportManager.getTransports().find(x => x instanceof UdxTransport)
  assert.ok(t instanceof UdxTransport, 'the node has the UDX transport')
  return t
}

/** multistream-select's framing: unsigned-varint length (one byte here), then the line */
const line = (s: string): Buffer => Buffer.concat([Buffer.of(Buffer.byteLength(s)), Buffer.from(s)])
const PROPOSAL = Buffer.concat([line('/multistream/1.0.0\n'), line('/noise\n')])
/** Noise XX's first message: a 2-byte length, then the initiator's ephemeral key (32 bytes) */
const NOISE_MSG1 = 2 + 32

/** Collects what arrives on a raw UDX stream until `n` bytes came (or the signal ends it). */
async function readAtLeast (stream: UDXStream, n: number, signal: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = []
  let have = 0
  return await new Promise<Buffer>((resolve, reject) => {
    const onData = (b: Buffer): void => {
      chunks.push(b); have += b.byteLength
      if (have >= n) { stream.off('data', onData); resolve(Buffer.concat(chunks)) }
    }
    stream.on('data', onData)
    signal.addEventListener('abort', () => { stream.off('data', onData); reject(new Error(`only ${have} bytes of ${n} came before the answer: ${Buffer.concat(chunks).toString('hex')}`)) }, { once: true })
  })
}

describe('UDX punched connection: fast upgrade', () => {
  const nodes: Node[] = []
  const udx = new UDX()
  const cleanup: Array<() => Promise<void>> = []
  after(async () => {
    for (const c of cleanup) await c().catch(() => {})
    await Promise.all(nodes.map(async n => { await n.stop() }))
  })

  it('sends Noise\'s first message with the multistream-select proposal, before any answer, and refuses a wrong answer with ERR_UDX_HANDSHAKE', async () => {
    const a = await udxNode(); nodes.push(a)
    const b = await udxNode(); nodes.push(b)
    const transport = transportOf(a)
    const main = transport.mainSocket
    assert.ok(main != null, 'A bound its UDX socket')
    // a raw UDX peer (not burrow): it takes the stream, reads, and answers only when told
    const socket = udx.createSocket()
    socket.bind(0, '127.0.0.1')
    const endpoint = new UdxEndpoint({ udx, socket })
    cleanup.push(async () => { endpoint.close(); await socket.close() })
    const signal = AbortSignal.timeout(15_000)
    const raw = endpoint.expect('127.0.0.1', main.port, { signal })
    const dialing = transport.connectOver(main.socket, '127.0.0.1', socket.address().port, { initiator: true, remotePeer: b.peerId, signal })
    dialing.catch(() => {})
    const stream = await raw
    stream.on('error', () => {}) // A resets it when it refuses the answer
    cleanup.unshift(async () => { stream.destroy() })
    // nothing answered yet: the initiator's first flight already holds Noise's first message
    const first = await readAtLeast(stream, PROPOSAL.byteLength + NOISE_MSG1, AbortSignal.timeout(5_000))
    assert.deepEqual(first.subarray(0, PROPOSAL.byteLength), PROPOSAL, 'the proposal: multistream-select header, then /noise')
    assert.equal(first.readUInt16BE(PROPOSAL.byteLength), 32, 'then Noise XX\'s first message (a 32-byte ephemeral key)')
    // this peer does not speak /noise: its answer differs from the expected one, the connection is refused
    stream.write(Buffer.concat([line('/multistream/1.0.0\n'), line('na\n')]))
    await assert.rejects(dialing, (err: Error & { code?: string }) => {
      assert.match(err.message, /ERR_UDX_HANDSHAKE|answered our multistream-select proposal with something else/, err.message)
      return true
    })
    assert.equal(a.getConnections(b.peerId).length, 0, 'no connection was opened')
  })

  it('upgrades a punched connection between two burrow nodes (Noise, yamux) and reports the handshake and upgrade phases', async () => {
    const a = await udxNode(); nodes.push(a)
    const b = await udxNode(); nodes.push(b)
    const ta = transportOf(a)
    const tb = transportOf(b)
    const ma = ta.mainSocket
    const mb = tb.mainSocket
    assert.ok(ma != null && mb != null)
    const signal = AbortSignal.timeout(20_000)
    const pa = { handshakeMs: null as number | null, upgradeMs: null as number | null }
    const pb = { handshakeMs: null as number | null, upgradeMs: null as number | null }
    const [ca, cb] = await Promise.all([
      ta.connectOver(ma.socket, '127.0.0.1', mb.port, { initiator: true, remotePeer: b.peerId, signal, phases: pa }),
      tb.connectOver(mb.socket, '127.0.0.1', ma.port, { initiator: false, remotePeer: a.peerId, signal, phases: pb })
    ])
    assert.equal(ca.remotePeer.toString(), b.peerId.toString())
    assert.equal(cb.remotePeer.toString(), a.peerId.toString())
    assert.equal(ca.encryption, '/noise')
    assert.equal(ca.multiplexer, '/yamux/1.0.0')
    assert.equal(cb.multiplexer, '/yamux/1.0.0')
    // streams work both ways on it
    const rtt = await a.services.ping.ping(b.peerId, { signal })
    assert.ok(rtt >= 0)
    await b.services.ping.ping(a.peerId, { signal })
    for (const [side, p] of [['initiator', pa], ['responder', pb]] as const) {
      assert.equal(typeof p.handshakeMs, 'number', `${side}: the handshake phase is reported`)
      assert.equal(typeof p.upgradeMs, 'number', `${side}: the upgrade phase is reported`)
    }
    console.log(`# loopback punched connection: initiator handshake ${pa.handshakeMs ?? '?'} ms, upgrade ${pa.upgradeMs ?? '?'} ms; responder handshake ${pb.handshakeMs ?? '?'} ms, upgrade ${pb.upgradeMs ?? '?'} ms`)
  })
})
