/**
 * Issue 15, safety of the punch coordinator, with real libp2p nodes over loopback (a stock
 * circuit relay v2 server between them): a punch is answered only over a relayed
 * connection, attempts are capped per peer, a hostile frame is refused at the edge, and
 * every attempt lands in the record with why. (No NAT here: the direct path is the lab's.)
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, Libp2p } from '@libp2p/interface'
import { udxTransport, udxPunch, UDX_PUNCH_PROTOCOL, probeTargetRefusal } from '../../dist/udx/index.js'
import type { UdxPunchService } from '../../dist/udx/index.js'

type Peer = Libp2p<{ identify: unknown, udxPunch: UdxPunchService }>

async function peer (listen: string[]): Promise<Peer> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/x-burrow-udx', ...listen] },
    transports: [tcp(), circuitRelayTransport(), udxTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: {
      identify: identify(),
      udxPunch: udxPunch({ enabled: true, stunServers: () => [], privatePolicy: 'all', autoAttempt: false })
    }
  }) as unknown as Peer
}

async function waitFor<T> (what: string, fn: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

describe('UDX punch guards', () => {
  let relay: Libp2p
  let a: Peer
  let b: Peer
  let relayed: Connection

  before(async () => {
    relay = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: { denyDialMultiaddr: () => false },
      services: { identify: identify(), relay: circuitRelayServer({ reservations: { applyDefaultLimit: false } }) }
    })
    b = await peer(['/p2p-circuit'])
    a = await peer([])
    await b.dial(relay.getMultiaddrs()[0]!)
    const circuit = await waitFor('a relay address of B', () => b.getMultiaddrs().find(m => m.toString().includes('/p2p-circuit')))
    relayed = await a.dial(multiaddr(circuit.toString()))
    assert.ok(relayed.remoteAddr.toString().includes('/p2p-circuit'), 'A reaches B through the relay')
  })
  after(async () => { await Promise.all([a, b, relay].filter(n => n != null).map(async n => { await n.stop() })) })

  it('records why an attempt could not fire, and caps attempts per peer (3 per 10 minutes)', async () => {
    for (let i = 1; i <= 3; i++) {
      await assert.rejects(a.services.udxPunch.attemptUdx(relayed, AbortSignal.timeout(10_000)), (err: Error & { code?: string }) => err.code === 'ERR_UDX_PUNCH' && /no public UDX address/.test(err.message))
    }
    await assert.rejects(a.services.udxPunch.attemptUdx(relayed, AbortSignal.timeout(10_000)), /3 UDX attempts with this peer within 10 minutes/)
    const mine = a.services.udxPunch.status().attempts
    assert.equal(mine.length, 4)
    assert.deepEqual(mine.map(r => r.outcome), ['skipped', 'skipped', 'skipped', 'skipped'])
    assert.ok(mine.every(r => r.probes === 0 && r.sockets === 0 && r.role === 'initiator'))
    // B answered the three exchanges (and recorded them) and never saw the fourth
    const theirs = await waitFor('B\'s three records', () => { const r = b.services.udxPunch.status().attempts; return r.length === 3 ? r : undefined })
    assert.ok(theirs.every(r => r.role === 'responder' && r.outcome === 'skipped' && r.probes === 0))
    assert.equal(b.services.udxPunch.failureFor(a.peerId.toString())?.startsWith('UDX: '), true)
  })

  it('refuses a hostile frame at the edge, records why, and keeps running', async () => {
    const c = await peer([])
    try {
      const circuit = b.getMultiaddrs().find(m => m.toString().includes('/p2p-circuit'))!
      const viaRelay = await c.dial(multiaddr(circuit.toString()))
      const stream = await viaRelay.newStream(UDX_PUNCH_PROTOCOL, { runOnLimitedConnection: true })
      const lp = lpStream(stream, { maxDataLength: 4096 })
      await lp.write(new TextEncoder().encode('{"type":"CONNECT","addr":"1.2.3.4:1","nat":"full-cone","keepaliveMs":1,"nonce":"x"}'))
      await assert.rejects(lp.read({ signal: AbortSignal.timeout(5_000) }), 'B resets the stream')
      const rec = await waitFor('B\'s record of the refusal', () => b.services.udxPunch.status().attempts.find(r => r.peer === c.peerId.toString()))
      assert.equal(rec.outcome, 'failed')
      assert.match(rec.detail, /CONNECT\.nat is not a known NAT kind/)
      assert.equal(rec.probes, 0)
      assert.equal(b.status, 'started')
    } finally {
      await c.stop()
    }
  })

  it('answers a punch stream only over a relayed connection', async () => {
    const udxAddr = b.getMultiaddrs().find(m => m.toString().includes('/x-burrow-udx'))
    assert.ok(udxAddr != null)
    const direct = await a.dial(udxAddr)
    assert.ok(!direct.remoteAddr.toString().includes('/p2p-circuit'))
    await assert.rejects(a.services.udxPunch.attemptUdx(direct, AbortSignal.timeout(5_000)), /not a relayed connection/)
    const stream = await direct.newStream(UDX_PUNCH_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: 4096 })
    await lp.write(new TextEncoder().encode(JSON.stringify({ type: 'CONNECT', addr: '198.51.100.7:4001', nat: 'endpoint-independent', keepaliveMs: 25000, nonce: '0123456789abcdef0123456789abcdef' }))).catch(() => {})
    await assert.rejects(lp.read({ signal: AbortSignal.timeout(5_000) }), 'B resets the stream instead of answering CONNECT')
  })
})

describe('birthday probe target (the peer\'s STUN claim)', () => {
  it('probes an IP the peer was seen at, or a public unicast IP it claims when it was seen nowhere; never a special-purpose one', () => {
    assert.equal(probeTargetRefusal('10.1.2.3', new Set(['10.1.2.3'])), null, 'seen in the peer store: allowed, even private')
    // a stock relay says nothing of what it observed: the peer's own claim of a public IP
    assert.equal(probeTargetRefusal('21.160.154.104', new Set()), null)
    assert.equal(probeTargetRefusal('2a00:1450::1', new Set()), null)
    // a peer seen at public addresses is probed only there, whatever its STUN claim says
    assert.match(probeTargetRefusal('21.160.154.104', new Set(['21.160.154.200'])) ?? '', /not an IP it was seen at \(21\.160\.154\.200/)
    for (const ip of ['10.1.2.3', '192.168.1.1', '172.16.0.9', '127.0.0.1', '169.254.1.1', '0.0.0.0', '224.0.0.1', '239.1.1.1', '255.255.255.255', '::1', '::', 'ff02::1', 'fe80::1', 'example.org']) {
      assert.match(probeTargetRefusal(ip, new Set()) ?? '', /not a public unicast IP: no probes sent/, ip)
    }
  })
})
