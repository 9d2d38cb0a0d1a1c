// A peer that stops serving the DHT (a private node serves at start, until it knows it is
// behind a NAT, then switches to client mode and tells its peers in an identify push)
// leaves our routing table, instead of staying there until a ping fails and getting
// dialled through its relays by every lookup that passes it.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { TypedEventEmitter } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { dhtMode, TABLE_REFILL_SCAN } from '../../../src/swarm/index.ts'
import { FakeReachability, logger, until } from '../services/fakes.ts'
import type { Connection, IdentifyResult, Libp2pEvents, Peer, PeerId, PeerInfo } from '@libp2p/interface'

const PROTOCOL = '/burrow/kad/1.0.0'
const PRIVATE = peerIdFromString('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')
const SERVER = peerIdFromString('12D3KooWH3uVF6wv47WnArKHk5p6cvgCJEb74UTmxztmQDc298L3')

function identified (peerId: PeerId, protocols: string[]): CustomEvent<IdentifyResult> {
  return new CustomEvent('peer:identify', { detail: { peerId, protocols, listenAddrs: [], connection: {} } as unknown as IdentifyResult })
}

describe('the DHT mode service and peers that stop serving the DHT', () => {
  it('a peer whose identify no longer lists the DHT protocol leaves the routing table; one that lists it stays', async () => {
    const table = new Set([PRIVATE.toString(), SERVER.toString()])
    const dht = {
      getMode: () => 'server' as const,
      setMode: async () => {},
      routingTable: {
        get size () { return table.size },
        find: async (peer: PeerId) => table.has(peer.toString()) ? peer : undefined,
        remove: async (peer: PeerId) => { table.delete(peer.toString()) }
      }
    }
    const events = new TypedEventEmitter<Libp2pEvents>()
    const svc = dhtMode({ protocol: PROTOCOL, auto: true })({ dht, reachability: new FakeReachability(), logger, events })
    svc.start()
    try {
      events.safeDispatchEvent('peer:identify', identified(SERVER, ['/ipfs/id/1.0.0', PROTOCOL]))
      // the private node switched to client mode: its identify push drops the protocol
      events.safeDispatchEvent('peer:identify', identified(PRIVATE, ['/ipfs/id/1.0.0', '/libp2p/circuit/relay/0.2.0/stop']))
      await until('out of the table', () => !table.has(PRIVATE.toString()))
      assert.deepEqual([...table], [SERVER.toString()])
      assert.equal(svc.status().routingTable, 1)
    } finally {
      svc.stop()
    }
    // stopped: nothing is taken out any more
    table.add(PRIVATE.toString())
    events.safeDispatchEvent('peer:identify', identified(PRIVATE, []))
    await new Promise(resolve => setTimeout(resolve, 10))
    assert.ok(table.has(PRIVATE.toString()))
  })
})

describe('the DHT mode service and an empty routing table', () => {
  const OTHER = peerIdFromString('12D3KooWLbjbnJfZHQJiiUjCwvQnNTGDockERPfW75LSvaZXFPxW')
  const RELAYED = peerIdFromString('12D3KooWKT4CnheUP4mWiBD5LYgEjBbvS7wDepYP2g7LxAY1QSEv')
  const conn = (remotePeer: PeerId, extra: Record<string, unknown> = {}): Connection => ({ remotePeer, status: 'open', limits: undefined, ...extra }) as unknown as Connection
  const connections = [conn(SERVER), conn(SERVER), conn(OTHER), conn(RELAYED, { limits: { bytes: 131072n } }), conn(PRIVATE, { status: 'closing' })]
  const protocols: Record<string, string[]> = {
    [SERVER.toString()]: ['/ipfs/id/1.0.0', PROTOCOL],
    [OTHER.toString()]: ['/ipfs/id/1.0.0', '/ipfs/kad/1.0.0'],
    [RELAYED.toString()]: [PROTOCOL],
    [PRIVATE.toString()]: [PROTOCOL]
  }
  const peerStore = { get: async (peer: PeerId) => ({ id: peer, protocols: protocols[peer.toString()] ?? [], addresses: [] }) as unknown as Peer }

  it('offers kad-dht each directly connected peer that speaks our DHT protocol, once, and nothing while the table holds a peer', async () => {
    let size = 0
    const offered: string[] = []
    const dht = {
      getMode: () => 'client' as const,
      setMode: async () => {},
      onPeerConnect: async (peer: PeerInfo) => { offered.push(peer.id.toString()) },
      routingTable: { get size () { return size } }
    }
    const svc = dhtMode({ protocol: PROTOCOL, auto: false })({ dht, reachability: new FakeReachability(), logger, connectionManager: { getConnections: () => connections }, peerStore })
    // not another network's DHT (OTHER), not over a relay (RELAYED), not a closing connection
    assert.equal(await svc.refill(), 1)
    assert.deepEqual(offered, [SERVER.toString()])
    size = 1
    assert.equal(await svc.refill(), 0)
    assert.deepEqual(offered, [SERVER.toString()])
  })

  it('looks at no more than TABLE_REFILL_SCAN connections per check (a relay holds thousands), the next ones at the next check', async () => {
    const offered: string[] = []
    const crowd = Array.from({ length: TABLE_REFILL_SCAN * 2 }, () => conn(OTHER))
    const dht = {
      getMode: () => 'client' as const,
      setMode: async () => {},
      onPeerConnect: async (peer: PeerInfo) => { offered.push(peer.id.toString()) },
      routingTable: { size: 0 }
    }
    let looked = 0
    const counting = { get: async (peer: PeerId) => { looked++; return peerStore.get(peer) } }
    const svc = dhtMode({ protocol: PROTOCOL, auto: false })({ dht, reachability: new FakeReachability(), logger, connectionManager: { getConnections: () => [...crowd, conn(SERVER)] }, peerStore: counting })
    // the same peer repeated is looked up once per check
    assert.equal(await svc.refill(), 0)
    assert.equal(looked, 1)
    assert.equal(await svc.refill(), 0)
    assert.equal(await svc.refill(), 1, 'the server, past the first two batches, is offered at the third check')
    assert.deepEqual(offered, [SERVER.toString()])
  })
})
