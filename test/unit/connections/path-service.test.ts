// The path module's service with the UDP path plugged in as its 'webrtc' strategy, both
// started on their own with fake components: a relayed connection we dialled becomes
// direct after TCP's head start; a failed peer is backed off by the path module (not by
// the UDP path), and whyRelayed tells the UDP path's reason.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { TypedEventEmitter } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { pathUpgrade, UpgradeAttemptError } from '../../../src/connections/index.ts'
import { udpPunch, udpAttemptsOf } from '../../../src/udppunch/index.ts'
import { logger, until } from '../services/fakes.ts'
import type { Connection, Libp2pEvents } from '@libp2p/interface'

const RELAY = '12D3KooWH3uVF6wv47WnArKHk5p6cvgCJEb74UTmxztmQDc298L3'
const PEER = peerIdFromString('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')

function conn (addr: string, direction: 'inbound' | 'outbound'): Connection {
  return { remotePeer: PEER, remoteAddr: multiaddr(addr), direction, status: 'open', timeline: { open: Date.now() }, close: async () => {} } as unknown as Connection
}

function setup (dial: () => Promise<Connection>): { events: TypedEventEmitter<Libp2pEvents>, open: Connection[], dials: string[], path: ReturnType<ReturnType<typeof pathUpgrade>>, udp: ReturnType<ReturnType<typeof udpPunch>> } {
  const events = new TypedEventEmitter<Libp2pEvents>()
  const open: Connection[] = []
  const dials: string[] = []
  const connectionManager = { getConnections: () => open }
  const path = pathUpgrade({ backoffMs: 60_000 })({ events, connectionManager, logger })
  const udp = udpPunch({ enabled: true, stunServers: [], delayMs: 20, closeRelayed: false })({
    events,
    connectionManager: connectionManager as never,
    transportManager: { dial: async (ma: { toString: () => string }) => { dials.push(ma.toString()); return dial() } } as never,
    pathUpgrade: path,
    logger
  })
  return { events, open, dials, path, udp }
}

describe('the UDP path as a strategy of the path module', () => {
  it('a relayed connection we dialled becomes direct over WebRTC, tried through the circuit', async () => {
    const direct = conn('/ip4/10.0.0.2/udp/5000/webrtc-direct', 'outbound')
    const { events, open, dials, path, udp } = setup(async () => direct)
    path.start()
    await udp.start()
    try {
      assert.deepEqual(path.status().strategies, ['webrtc'])
      const relayed = conn(`/ip4/10.0.0.1/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER.toString()}`, 'outbound')
      open.push(relayed)
      events.safeDispatchEvent('connection:open', { detail: relayed })
      await until('direct', () => path.machine.peer(PEER.toString())?.state === 'direct')
      assert.deepEqual(dials, [`/ip4/10.0.0.1/tcp/4001/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${PEER.toString()}`])
      assert.equal(path.whyRelayed(PEER.toString()), undefined)
      const tries = udpAttemptsOf(path.status().attempts)
      assert.deepEqual(tries.map(t => t.outcome), ['direct'])
    } finally {
      await udp.stop()
      path.stop()
    }
  })

  it('the UDP path fails: the path module backs the peer off and a new relayed connection is not tried again', async () => {
    const { events, open, dials, path, udp } = setup(async () => { throw new Error('ICE failed') })
    path.start()
    await udp.start()
    try {
      const relayed = conn(`/ip4/10.0.0.1/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER.toString()}`, 'outbound')
      open.push(relayed)
      events.safeDispatchEvent('connection:open', { detail: relayed })
      await until('failed', () => path.machine.peer(PEER.toString())?.state === 'failed', )
      assert.equal(dials.length, 2, 'MAX_ATTEMPTS WebRTC dials')
      assert.match(path.whyRelayed(PEER.toString()) ?? '', /^no direct connection: webrtc: no UDP path \(WebRTC, 2 attempts; STUN none\): ICE failed/)
      assert.deepEqual(path.machine.peer(PEER.toString())?.failures.webrtc?.startsWith('no UDP path'), true)
      events.safeDispatchEvent('connection:open', { detail: relayed })
      await new Promise(resolve => setTimeout(resolve, 50))
      assert.equal(dials.length, 2, 'backed off: no new dial')
      // the peer's side started it: not ours to try, said so
      const inbound = conn(`/ip4/10.0.0.1/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER.toString()}`, 'inbound')
      assert.equal(udp.strategy.applicable(inbound), 'the peer that dialled the relayed connection starts the UDP path')
    } finally {
      await udp.stop()
      path.stop()
    }
  })

  it('a peer that disconnects while the UDP path waits its head start is never dialled', async () => {
    const { events, open, dials, path, udp } = setup(async () => { throw new Error('not reached') })
    path.start()
    await udp.start()
    try {
      const relayed = conn(`/ip4/10.0.0.1/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER.toString()}`, 'outbound')
      open.push(relayed)
      events.safeDispatchEvent('connection:open', { detail: relayed })
      events.safeDispatchEvent('peer:disconnect', { detail: PEER })
      await new Promise(resolve => setTimeout(resolve, 60))
      assert.deepEqual(dials, [])
      assert.equal(path.machine.peer(PEER.toString()), undefined)
    } finally {
      await udp.stop()
      path.stop()
    }
  })
})

/** A path service with one 'udx' strategy: `first` decides the first attempt, later ones go direct; `over` lists the connections tried. */
function udxPath (first: (signal: AbortSignal) => Promise<never>): { events: TypedEventEmitter<Libp2pEvents>, open: Connection[], over: Connection[], path: ReturnType<ReturnType<typeof pathUpgrade>> } {
  const events = new TypedEventEmitter<Libp2pEvents>()
  const open: Connection[] = []
  const path = pathUpgrade({ backoffMs: 60_000 })({ events, connectionManager: { getConnections: () => open }, logger })
  const over: Connection[] = []
  path.addStrategy({
    name: 'udx',
    applicable: () => undefined,
    attempt: async (relayed, signal) => {
      over.push(relayed)
      if (over.length === 1) return first(signal)
      return { connection: conn('/ip4/10.0.0.2/udp/4001', 'outbound'), record: {} }
    }
  })
  return { events, open, over, path }
}

describe('the path module when the relayed connection is replaced', () => {
  it('the connection manager drops the relayed connection a punch runs over (a duplicate): the punch starts again over the relayed connection kept', async () => {
    // the first exchange dies with its connection
    const { events, open, over, path } = udxPath(async (signal) => await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(new Error('the punch exchange failed: Duplicate multiaddr connection')) }, { once: true }) }))
    path.start()
    try {
      const circuit = `/ip4/10.0.0.1/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER.toString()}`
      const lost = new EventTarget()
      const dropped = Object.assign(conn(circuit, 'outbound'), { addEventListener: lost.addEventListener.bind(lost), removeEventListener: lost.removeEventListener.bind(lost) }) as Connection & { status: string }
      const kept = conn(circuit, 'inbound')
      open.push(dropped)
      events.safeDispatchEvent('connection:open', { detail: dropped })
      await until('the first attempt', () => over.length === 1)
      open.push(kept)
      events.safeDispatchEvent('connection:open', { detail: kept })
      open.splice(open.indexOf(dropped), 1)
      dropped.status = 'closed'
      lost.dispatchEvent(new Event('close'))
      await until('direct', () => path.machine.peer(PEER.toString())?.state === 'direct')
      assert.deepEqual(over, [dropped, kept], 'the second attempt ran over the connection kept')
      assert.deepEqual(path.status().attempts.map(a => a.outcome), ['aborted', 'direct'], 'the first is logged aborted, not failed')
    } finally {
      path.stop()
    }
  })
})

describe('the path module when the peer took the punch over', () => {
  it('our attempt gave way to the peer\'s over its relayed connection, which then closed: we punch again over ours', async () => {
    // the first time, the peer's own attempt (over its connection) takes ours over: nothing failed
    const { events, open, over, path } = udxPath(async () => { throw new UpgradeAttemptError('the punch exchange failed: the peer started its own attempt', {}, { quiet: true }) })
    path.start()
    try {
      const circuit = `/ip4/10.0.0.1/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER.toString()}`
      const ours = conn(circuit, 'outbound')
      const theirs = conn(circuit, 'inbound')
      open.push(ours, theirs)
      events.safeDispatchEvent('connection:open', { detail: ours })
      await until('our first attempt', () => over.length === 1)
      await until('aborted, not failed', () => path.status().attempts.length === 1)
      assert.equal(path.machine.peer(PEER.toString()), undefined, 'no failure, no backoff')
      // the peer's connection (and its attempt with it) goes away
      open.splice(open.indexOf(theirs), 1)
      events.safeDispatchEvent('connection:close', { detail: theirs })
      await until('direct', () => path.machine.peer(PEER.toString())?.state === 'direct')
      assert.deepEqual(over, [ours, ours])
    } finally {
      path.stop()
    }
  })
})
