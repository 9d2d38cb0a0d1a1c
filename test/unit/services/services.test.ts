// Each behaviour is a libp2p service that starts on its own with fake components:
// DHT mode switching, the rendezvous provider, the STUN server's lifecycle and the
// known-peers tally, driven by a reachability verdict the test sets.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import { TypedEventEmitter, serviceDependencies, serviceCapabilities } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { dhtMode, rendezvous, knownPeers, rendezvousKey } from '../../../dist/swarm/index.js'
import { stunService, encodeBindingRequest, mappedAddressOf } from '../../../dist/stun/index.js'
import { relayGate } from '../../../dist/relay/index.js'
import { reachability, ObservedAddresses } from '../../../dist/nat/index.js'
import { FakeReachability, logger, until } from './fakes.ts'
import type { RelayOffering } from '../../../dist/stun/index.js'
import type { Libp2pEvents, PeerId } from '@libp2p/interface'

const SELF = peerIdFromString('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')
const OTHER = peerIdFromString('12D3KooWH3uVF6wv47WnArKHk5p6cvgCJEb74UTmxztmQDc298L3')

describe('DHT mode switching, started on its own', () => {
  it('serves the DHT only while reachable, and reports the DHT\'s own routing-table size', async () => {
    let mode: 'client' | 'server' = 'server'
    const dht = { getMode: () => mode, setMode: async (m: 'client' | 'server') => { mode = m }, routingTable: { size: 3 } }
    const reach = new FakeReachability()
    const svc = dhtMode({ protocol: '/burrow/kad/1.0.0', auto: true })({ dht, reachability: reach, logger })
    assert.deepEqual(svc[serviceDependencies], ['@libp2p/peer-routing', '@burrow/reachability'])
    svc.start()
    svc.afterStart()
    assert.equal(mode, 'server', 'unknown reachability keeps serving')
    reach.set('private')
    await until('client mode', () => mode === 'client')
    reach.set('public')
    await until('server mode', () => mode === 'server')
    assert.deepEqual(svc.status(), { protocol: '/burrow/kad/1.0.0', mode: 'server', routingTable: 3 })
    svc.stop()
    reach.set('private')
    await new Promise(resolve => setTimeout(resolve, 10))
    assert.equal(mode, 'server', 'a stopped service switches nothing')
  })

  it('with dhtMode fixed (auto false) the mode is left alone; the connections open at start are identified once more', async () => {
    let mode: 'client' | 'server' = 'server'
    const open = [{ remotePeer: OTHER }, { remotePeer: SELF }] as never[]
    const identified: unknown[] = []
    const svc = dhtMode({ protocol: 'p', auto: false })({
      dht: { getMode: () => mode, setMode: async (m: 'client' | 'server') => { mode = m } },
      reachability: new FakeReachability(),
      logger,
      connectionManager: { getConnections: () => open },
      identify: { identify: async (c: unknown) => { identified.push(c); return {} as never } }
    })
    svc.start()
    svc.afterStart()
    assert.equal(mode, 'server')
    // a bootstrap connection identified before the DHT listened would never enter its routing table
    assert.deepEqual(identified, open)
    assert.equal(svc.status().routingTable, 0, 'a DHT without a routing table counts 0')
  })
})

describe('the rendezvous provider, started on its own', () => {
  it('a private node with a circuit address provides its rendezvous key once, a public one never', async () => {
    const provided: string[] = []
    const dht = {
      provide: async function * (key: { toString: () => string }) { provided.push(key.toString()) }
    }
    let addrs = [multiaddr('/ip4/10.0.0.2/tcp/4001')]
    const reach = new FakeReachability()
    const svc = rendezvous()({ peerId: SELF, dht: dht as never, addressManager: { getAddresses: () => addrs }, reachability: reach, logger })
    svc.start()
    try {
      reach.set('private')
      await svc.maybeProvide()
      assert.deepEqual(provided, [], 'no relay address yet: nothing to provide')
      assert.equal(svc.status().providedAt, null)
      addrs = [...addrs, multiaddr(`/ip4/10.0.0.1/tcp/4001/p2p/${OTHER.toString()}/p2p-circuit/p2p/${SELF.toString()}`)]
      reach.set('private')
      await until('provided', () => provided.length === 1)
      assert.equal(provided[0], (await rendezvousKey(SELF)).toString())
      assert.ok(svc.status().providedAt != null)
      await svc.maybeProvide()
      assert.equal(provided.length, 1, 'the same relay addresses are not provided again before the refresh')
      reach.set('public')
      addrs = [multiaddr('/ip4/10.0.0.2/tcp/4001'), multiaddr(`/ip4/10.0.0.9/tcp/4001/p2p/${OTHER.toString()}/p2p-circuit/p2p/${SELF.toString()}`)]
      await svc.maybeProvide()
      assert.equal(provided.length, 1, 'a public node provides no rendezvous record')
    } finally {
      svc.stop()
    }
  })

  it('provides as soon as a reservation adds the circuit address (self:peer:update), not at the next check', async (t) => {
    // the periodic check never fires here: only the address change can start the provide
    t.mock.timers.enable({ apis: ['setInterval'] })
    const provided: string[] = []
    const dht = { provide: async function * (key: { toString: () => string }) { provided.push(key.toString()) } }
    let addrs = [multiaddr('/ip4/10.0.0.2/tcp/4001')]
    const reach = new FakeReachability()
    reach.set('private')
    const events = new TypedEventEmitter<Libp2pEvents>()
    const svc = rendezvous()({ peerId: SELF, dht: dht as never, addressManager: { getAddresses: () => addrs }, reachability: reach, logger, events })
    svc.start()
    try {
      await svc.maybeProvide()
      assert.deepEqual(provided, [], 'no relay address yet')
      addrs = [...addrs, multiaddr(`/ip4/10.0.0.1/tcp/4001/p2p/${OTHER.toString()}/p2p-circuit/p2p/${SELF.toString()}`)]
      events.safeDispatchEvent('self:peer:update', { detail: {} as never })
      await until('provided after the address change', () => provided.length === 1)
    } finally {
      svc.stop()
    }
  })
})

class FakeGate extends TypedEventEmitter<{ 'relay:offering': CustomEvent<boolean> }> implements RelayOffering {
  offering = false
  set (on: boolean): void {
    this.offering = on
    this.safeDispatchEvent('relay:offering', { detail: on })
  }
}

async function stunAsk (port: number): Promise<string | undefined> {
  const socket = createSocket('udp4')
  try {
    return await new Promise((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error('no STUN answer')) }, 5_000)
      socket.once('message', (msg) => { clearTimeout(t); const a = mappedAddressOf(msg); resolve(a == null ? undefined : `${a.address}:${a.port}`) })
      socket.send(encodeBindingRequest(), port, '127.0.0.1')
    })
  } finally {
    socket.close()
  }
}

describe('the STUN server lifecycle, started on its own', () => {
  it('serves STUN on loopback while relay service is offered, and stops when it is withdrawn', async () => {
    const gate = new FakeGate()
    const svc = stunService({ port: 0, hosts: ['127.0.0.1'] })({ relayGate: gate, logger })
    assert.deepEqual(svc[serviceDependencies], ['@burrow/relay-gate'])
    svc.start()
    try {
      await svc.afterStart()
      assert.equal(svc.status(), null, 'no relay service: no STUN server')
      gate.set(true)
      await until('listening', () => (svc.status()?.listening.length ?? 0) > 0)
      const port = svc.status()?.listening[0]?.port ?? 0
      const seen = await stunAsk(port)
      assert.match(seen ?? '', /^127\.0\.0\.1:\d+$/)
      assert.equal(svc.status()?.answered, 1)
      gate.set(false)
      await until('stopped', () => svc.status() == null)
    } finally {
      await svc.stop()
    }
  })
})

describe('known peers, started on its own', () => {
  it('counts which bootstrap peers answered and records when each peer was seen', async () => {
    const events = new TypedEventEmitter<Libp2pEvents>()
    const merged: string[] = []
    const peerStore = { merge: async (p: PeerId) => { merged.push(p.toString()); return {} as never }, all: async () => [] }
    const svc = knownPeers({ bootstrap: [`/ip4/127.0.0.1/tcp/4001/p2p/${OTHER.toString()}`, '/ip4/127.0.0.1/tcp/4002'], reconnect: false })({ peerId: SELF, peerStore, connectionManager: { openConnection: async () => { throw new Error('no dials in this test') } }, events, logger })
    svc.start()
    svc.afterStart()
    assert.deepEqual(svc.status(), { bootstrap: { peers: 1, answered: 0 } })
    assert.deepEqual(svc.bootstrapPeers, [OTHER.toString()])
    events.safeDispatchEvent('peer:connect', { detail: SELF })
    events.safeDispatchEvent('peer:connect', { detail: OTHER })
    await until('both recorded', () => merged.length === 2)
    assert.deepEqual(svc.status(), { bootstrap: { peers: 1, answered: 1 } })
    svc.stop()
    events.safeDispatchEvent('peer:connect', { detail: OTHER })
    await new Promise(resolve => setTimeout(resolve, 10))
    assert.equal(merged.length, 2, 'a stopped service records nothing')
  })
})

describe('service dependencies', () => {
  it('the reachability service provides what the relay gate, DHT mode and rendezvous services depend on', () => {
    const reach = reachability({ manual: false, observed: new ObservedAddresses() })({ events: new TypedEventEmitter(), addressManager: { getAddressesWithMetadata: () => [] }, logger } as never)
    const provided = reach[serviceCapabilities]
    const gate = relayGate({ mode: 'auto', limits: { maxCircuits: 1, maxCircuitsPerPeer: 1, maxCircuitsPerIp: 1, maxReservations: 1, maxReservationsPerIp: 1, reservationsPerIpPerHour: 1 } })({ logger } as never)
    assert.ok(gate[serviceDependencies].every(d => provided.includes(d)))
    assert.ok(gate[serviceCapabilities].includes('@burrow/relay-gate'))
    assert.equal(gate.offering, false)
  })
})
