/**
 * A library user may pass one long-lived signal (the application's shutdown signal) to every
 * `find()`; the node must keep nothing per call on it. `AbortSignal.any()` with such a signal
 * keeps each combined signal for as long as the source lives (nodejs/node#55351): ~170 bytes
 * of heap per find for the life of the application. Two DHT servers on loopback: a find for
 * a peer nobody knows is answered "not found" in milliseconds, so thousands run in seconds.
 *
 * The same run checks the server side: kad-dht's inbound handler left each DHT stream, closed,
 * on a 10 s timer (~6 KB per request held; src/upstream/kad-dht-inbound.ts). Right after the
 * finds the heap holds only the timers themselves; 11 s later, when kad-dht's timers have
 * fired, nothing.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import * as burrow from '../../dist/index.js'
import { liveHeapBytes as liveHeap } from '../helpers/heap.ts'
import { tempHome, waitFor } from '../helpers/burrow.ts'

describe('find: a long-lived signal', () => {
  const nodes: burrow.BurrowNode[] = []
  after(async () => {
    await Promise.all(nodes.map(async n => n.stop().catch(() => {})))
    await Promise.all(nodes.map(async n => rm(n.home, { recursive: true, force: true })))
  })
  const make = async (label: string, bootstrap: string[]): Promise<burrow.BurrowNode> => {
    const node = await burrow.createNode({ home: await tempHome(label), config: { network: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, portMapping: 'off', dhtMode: 'server' } })
    nodes.push(node)
    await node.start()
    return node
  }

  it('a node that knows no DHT server says so, not that the peer may be offline', async () => {
    const alone = await make('find-alone', [])
    const target = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    await assert.rejects(alone.find(target, { signal: AbortSignal.timeout(500) }), (err: Error) => {
      assert.equal(err.name, 'PeerNotFoundError')
      assert.match(err.message, /no DHT server known: the routing table stayed empty/)
      assert.match(err.message, /check the bootstrap list/)
      assert.doesNotMatch(err.message, /the peer is online/)
      return true
    })
    await alone.stop()
  })

  it('keeps no heap per find on the caller\'s signal', async (t) => {
    const server = await make('find-signal-server', [])
    const first = server.libp2p.getMultiaddrs().find(m => m.toString().startsWith('/ip4/127.0.0.1/'))?.toString() ?? ''
    const node = await make('find-signal', [first])
    await waitFor('the server is in the routing table', async () => (node.libp2p.services.dht as unknown as { routingTable: { size: number } }).routingTable.size > 0, 30_000)
    const target = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const app = new AbortController()
    const findMany = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        await assert.rejects(node.find(target, { signal: app.signal }), { name: 'PeerNotFoundError' })
      }
    }
    await findMany(1000) // warm-up: JIT, the DHT's first queries
    await sleep(11_000)
    const before = await liveHeap()
    const n = 4000
    await findMany(n)
    const soon = (await liveHeap() - before) / n
    t.diagnostic(`live heap right after the finds: ${soon.toFixed(1)} bytes per find`)
    assert.ok(soon < 2500, `right after the finds the live heap held ${soon.toFixed(0)} bytes per find: the server keeps its closed DHT streams`)
    await sleep(11_000) // kad-dht's 10 s timers of the inbound streams fire
    const perFind = (await liveHeap() - before) / n
    t.diagnostic(`live heap: ${perFind.toFixed(1)} bytes per find`)
    assert.ok(perFind < 100, `the live heap grew ${perFind.toFixed(0)} bytes per find`)
    assert.equal(app.signal.aborted, false)
  })
})
