/**
 * Issue 15, the UDX transport: two real libp2p nodes over real UDP sockets on loopback,
 * upgraded with Noise + yamux; the stream-id exchange survives lost datagrams and stays
 * bounded against a flood of handshakes.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import type { Socket } from 'node:dgram'
import { createLibp2p } from 'libp2p'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping } from '@libp2p/ping'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from '@libp2p/interface'
import UDX from 'udx-native'
import { udxTransport, UdxEndpoint, encodeHandshake, HELLO, decodeHandshake } from '../../dist/udx/index.js'

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

/** A UDP forwarder on loopback that drops the first `dropHellos` HELLO datagrams (lossy path). */
async function lossyForwarder (target: number, dropHellos: number): Promise<{ port: number, dropped: () => number, close: () => void }> {
  const front: Socket = createSocket('udp4')
  const back: Socket = createSocket('udp4')
  let client: { address: string, port: number } | undefined
  let dropped = 0
  front.on('message', (msg, from) => {
    client = { address: from.address, port: from.port }
    if (decodeHandshake(msg)?.kind === HELLO && dropped < dropHellos) { dropped++; return }
    back.send(msg, target, '127.0.0.1')
  })
  back.on('message', msg => { if (client != null) front.send(msg, client.port, client.address) })
  await new Promise<void>(resolve => front.bind(0, '127.0.0.1', resolve))
  await new Promise<void>(resolve => back.bind(0, '127.0.0.1', resolve))
  return { port: front.address().port, dropped: () => dropped, close: () => { front.close(); back.close() } }
}

describe('UDX transport', () => {
  const nodes: Node[] = []
  after(async () => { await Promise.all(nodes.map(async n => { await n.stop() })) })

  it('listens on a /udp/…/x-burrow-udx address and carries a Noise + yamux connection both ways', async () => {
    const a = await udxNode(); nodes.push(a)
    const b = await udxNode(); nodes.push(b)
    const addr = b.getMultiaddrs().find(ma => ma.toString().includes('/x-burrow-udx'))
    assert.ok(addr != null, `b announces a UDX address: ${b.getMultiaddrs().map(String).join(' ')}`)
    assert.match(addr.toString(), /^\/ip4\/127\.0\.0\.1\/udp\/\d+\/x-burrow-udx\/p2p\//)
    const conn = await a.dial(addr)
    assert.equal(conn.remotePeer.toString(), b.peerId.toString())
    assert.equal(conn.encryption, '/noise')
    assert.equal(conn.multiplexer, '/yamux/1.0.0')
    const rtt = await a.services.ping.ping(b.peerId)
    assert.ok(rtt >= 0)
    // and back over the same connection
    await b.services.ping.ping(a.peerId)
    assert.equal(b.getConnections(a.peerId).length, 1, 'b uses the inbound connection, not a second one')
  })

  it('survives lost HELLO datagrams (resent with backoff until answered)', async () => {
    const a = await udxNode(); nodes.push(a)
    const b = await udxNode(); nodes.push(b)
    const port = Number(b.getMultiaddrs()[0]!.getComponents().find(c => c.name === 'udp')?.value)
    const fwd = await lossyForwarder(port, 3)
    try {
      const conn = await a.dial(multiaddr(`/ip4/127.0.0.1/udp/${fwd.port}/x-burrow-udx/p2p/${b.peerId.toString()}`), { signal: AbortSignal.timeout(15_000) })
      assert.equal(fwd.dropped(), 3, 'the first three HELLOs were lost')
      assert.equal(conn.remotePeer.toString(), b.peerId.toString())
      await a.services.ping.ping(b.peerId)
    } finally {
      fwd.close()
    }
  })

  it('answers a repeated HELLO with the same stream (idempotent) and bounds pending handshakes per source IP', async () => {
    const udx = new UDX()
    const socket = udx.createSocket()
    socket.bind(0, '127.0.0.1')
    const inbound: number[] = []
    const endpoint = new UdxEndpoint({ udx, socket, onInbound: ({ stream }) => { inbound.push(stream.id) }, maxPendingPerIp: 4, maxPendingTotal: 64 })
    const client = createSocket('udp4')
    const acks: Array<{ initiatorId: number, responderId: number }> = []
    client.on('message', msg => { const m = decodeHandshake(msg); if (m?.kind === 2) acks.push(m) })
    await new Promise<void>(resolve => client.bind(0, '127.0.0.1', resolve))
    try {
      const port = socket.address().port
      const send = async (id: number): Promise<void> => { await new Promise<void>((resolve, reject) => client.send(encodeHandshake({ kind: HELLO, initiatorId: id }), port, '127.0.0.1', e => e != null ? reject(e) : resolve())) }
      await send(7); await send(7); await send(7)
      for (let id = 100; id < 120; id++) await send(id)
      await new Promise(resolve => setTimeout(resolve, 300))
      const forSeven = acks.filter(a => a.initiatorId === 7)
      assert.equal(forSeven.length, 3, 'every HELLO(7) answered')
      assert.equal(new Set(forSeven.map(a => a.responderId)).size, 1, 'with one and the same stream')
      assert.equal(inbound.length, 4, 'no more inbound streams than the per-IP cap')
      assert.equal(endpoint.pending, 4)
      assert.equal(endpoint.refused, 17)
    } finally {
      endpoint.close()
      for (const s of [...socket.streams]) s.destroy()
      await socket.close()
      client.close()
    }
  })

  it('binds a free port when the configured one is taken (one log line), and still carries connections', async () => {
    const taken = createSocket('udp4')
    await new Promise<void>(resolve => taken.bind(0, '127.0.0.1', resolve))
    const port = taken.address().port
    try {
      const node = await createLibp2p({
        addresses: { listen: [`/ip4/127.0.0.1/udp/${port}/x-burrow-udx`] },
        transports: [udxTransport()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: { ping: ping() }
      }) as unknown as Node
      nodes.push(node)
      const addr = node.getMultiaddrs()[0]
      assert.ok(addr != null)
      const got = Number(addr.getComponents().find(c => c.name === 'udp')?.value)
      assert.ok(got > 0 && got !== port, `listening on another port than the taken ${port}: ${addr.toString()}`)
      const a = await udxNode(); nodes.push(a)
      await a.dial(addr)
      await a.services.ping.ping(node.peerId)
    } finally {
      taken.close()
    }
  })
})
