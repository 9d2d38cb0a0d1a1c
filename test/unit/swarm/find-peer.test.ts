// A PeerId lookup whose DHT walk ends at servers that do not know the peer (a local minimum
// of sparse k-buckets) walks again instead of telling the user "not found" while the peer is
// reachable; it stops at the walk limit and at the caller's signal.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { findPeerWalking, FIND_PEER_WALKS } from '../../../src/swarm/index.ts'
import type { FindPeerDht } from '../../../src/swarm/index.ts'
import type { PeerId } from '@libp2p/interface'
import type { QueryEvent } from '@libp2p/kad-dht'

const TARGET = peerIdFromString('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')
const SERVER = peerIdFromString('12D3KooWH3uVF6wv47WnArKHk5p6cvgCJEb74UTmxztmQDc298L3')
const ADDR = multiaddr('/ip4/192.0.2.7/tcp/4001')

const response = (from: PeerId): QueryEvent => ({ name: 'PEER_RESPONSE', type: 1, from, messageName: 'FIND_NODE', closer: [], providers: [], path: { index: 0, queued: 0, running: 0, total: 0 } } as unknown as QueryEvent)
const final = (from: PeerId, addrs = [ADDR]): QueryEvent => ({ name: 'FINAL_PEER', type: 2, from, peer: { id: TARGET, multiaddrs: addrs }, path: { index: 0, queued: 0, running: 0, total: 0 } } as unknown as QueryEvent)

/** a DHT whose n-th findPeer walk runs walks[n] (events, or an error to throw after them) */
function dhtWalking (walks: Array<QueryEvent[] | Error>): FindPeerDht & { calls: number, useCache: unknown[] } {
  const dht = {
    calls: 0,
    useCache: [] as unknown[],
    findPeer: async function * (_id: PeerId, options?: { signal?: AbortSignal, useCache?: boolean }) {
      const walk = walks[dht.calls++] ?? []
      dht.useCache.push(options?.useCache)
      if (walk instanceof Error) throw walk
      for (const evt of walk) {
        options?.signal?.throwIfAborted()
        yield evt
      }
    }
  }
  return dht as unknown as FindPeerDht & { calls: number, useCache: unknown[] }
}

describe('finding a peer by walking the DHT', () => {
  it('a walk that ends without the peer is walked again, and the answer of the later walk is returned', async () => {
    const dht = dhtWalking([[response(SERVER), response(SERVER)], [response(SERVER), final(SERVER)]])
    const seen: Array<[string, number]> = []
    const found = await findPeerWalking(dht, TARGET, { onEvent: (evt, walk) => { seen.push([evt.name, walk]) } })
    assert.equal(found?.walk, 2)
    assert.deepEqual(found?.multiaddrs.map(String), [ADDR.toString()])
    assert.equal(found?.from.toString(), SERVER.toString())
    assert.equal(dht.calls, 2)
    assert.deepEqual(seen, [['PEER_RESPONSE', 1], ['PEER_RESPONSE', 1], ['PEER_RESPONSE', 2], ['FINAL_PEER', 2]])
    // every walk asks the network, not the peer store's cache
    assert.deepEqual(dht.useCache, [false, false])
  })

  it('an answer naming the peer without addresses does not end the lookup', async () => {
    const dht = dhtWalking([[final(SERVER, [])], [final(SERVER)]])
    const found = await findPeerWalking(dht, TARGET)
    assert.equal(found?.walk, 2)
  })

  it('after the walk limit it resolves undefined: the caller says the peer was not found', async () => {
    const dht = dhtWalking([[response(SERVER)], [response(SERVER)], [response(SERVER)], [final(SERVER)]])
    assert.equal(await findPeerWalking(dht, TARGET), undefined)
    assert.equal(dht.calls, FIND_PEER_WALKS)
  })

  it('a walk that fails is one walk; the last one failing rejects with its error', async () => {
    const dht = dhtWalking([new Error('no peers in routing table'), [final(SERVER)]])
    assert.equal((await findPeerWalking(dht, TARGET))?.walk, 2)
    const failing = dhtWalking([new Error('one'), new Error('two')])
    await assert.rejects(findPeerWalking(failing, TARGET, { walks: 2 }), /two/)
  })

  it("the caller's signal ends the lookup with its reason and starts no further walk", async () => {
    const controller = new AbortController()
    const reason = new Error('find timed out')
    const dht = dhtWalking([[response(SERVER)], [response(SERVER)], [final(SERVER)]])
    const found = findPeerWalking(dht, TARGET, { signal: controller.signal, onEvent: () => { controller.abort(reason) } })
    await assert.rejects(found, (err: unknown) => err === reason)
    assert.equal(dht.calls, 1)
  })
})
