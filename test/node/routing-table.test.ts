/**
 * `status.dht.routingTable` is the DHT's own routing-table size: three DHT servers on
 * loopback, each bootstrapped from the first, each report the peers their DHT holds.
 * And a node whose only DHT server fell out of its routing table gets it back while the
 * connection stays open.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import * as burrow from '../../dist/index.js'
import { tempHome, waitFor } from '../helpers/burrow.ts'

describe('status: the DHT routing table', () => {
  const nodes: burrow.BurrowNode[] = []
  after(async () => {
    await Promise.all(nodes.map(async n => n.stop().catch(() => {})))
    await Promise.all(nodes.map(async n => rm(n.home, { recursive: true, force: true })))
  })

  it('three DHT servers each report the size of their DHT\'s own routing table', async () => {
    const make = async (label: string, bootstrap: string[]): Promise<burrow.BurrowNode> => {
      const node = await burrow.createNode({ home: await tempHome(label), config: { network: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, portMapping: 'off', dhtMode: 'server' } })
      nodes.push(node)
      await node.start()
      return node
    }
    const a = await make('rt-a', [])
    const first = `${a.libp2p.getMultiaddrs().find(m => m.toString().startsWith('/ip4/127.0.0.1/'))?.toString() ?? ''}`
    assert.match(first, /\/p2p\//)
    const b = await make('rt-b', [first])
    const c = await make('rt-c', [first])
    const tableOf = (n: burrow.BurrowNode): number => (n.libp2p.services.dht as unknown as { routingTable: { size: number } }).routingTable.size
    // each server learns the other two (B and C through A's answers or their own connections)
    await waitFor('every routing table holds the two other servers', async () => [a, b, c].every(n => tableOf(n) === 2), 30_000)
    for (const n of [a, b, c]) {
      const st = await n.status()
      assert.equal(st.dht.mode, 'server')
      assert.equal(st.dht.routingTable, tableOf(n), `${n.peerId.toString()}: status.dht.routingTable is the DHT's own table size`)
      assert.equal(st.dht.routingTable, 2)
    }
  })

  it('a DHT client whose only server did not answer its first pings gets it into its routing table later and can provide', async () => {
    const server = await burrow.createNode({ home: await tempHome('rt-server'), config: { network: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], portMapping: 'off', dhtMode: 'server' } })
    nodes.push(server)
    await server.start()
    // kad-dht adds a peer to its routing table only after a ping answers (5 s at first); seen
    // in the lab: the first ping to the lab's only relay stalled and the client was left with
    // an empty table for good. Here the server leaves pings unanswered until told otherwise
    // (its ping handler swapped before any peer is connected, so no identify push tells of it)
    const pingService = server.libp2p.services.ping as unknown as { protocol: string, handlePing: (stream: unknown, connection: unknown) => Promise<void> }
    let answerPings = false
    let unanswered = 0
    await server.libp2p.handle(pingService.protocol, async (stream, connection) => {
      if (!answerPings) { unanswered++; return }
      await pingService.handlePing(stream, connection)
    }, { force: true, runOnLimitedConnection: true })
    const first = server.libp2p.getMultiaddrs().find(m => m.toString().startsWith('/ip4/127.0.0.1/'))?.toString() ?? ''
    const client = await burrow.createNode({ home: await tempHome('rt-client'), config: { network: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [first], portMapping: 'off', dhtMode: 'client' } })
    nodes.push(client)
    await client.start()
    const table = (client.libp2p.services.dht as unknown as { routingTable: { size: number } }).routingTable
    await waitFor('the client pinged the server', async () => unanswered > 0, 30_000)
    // identify's pushes at start (each one another try of kad-dht's) are over by then
    await new Promise(resolve => setTimeout(resolve, 8_000))
    assert.equal(table.size, 0, 'the server is not in the client\'s routing table while its pings go unanswered')
    assert.equal(client.libp2p.getConnections(server.peerId).length, 1, 'the connection to the server stays open')
    answerPings = true
    await waitFor('the server in the client\'s routing table once it answers pings', async () => table.size === 1, 30_000)
    assert.equal((await client.status()).dht.routingTable, 1)
    // and the DHT works: a provide reaches the server
    const { CID } = await import('multiformats/cid')
    const { sha256 } = await import('multiformats/hashes/sha2')
    const cid = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`rt-refill ${Date.now()}`)))
    let stored = 0
    for await (const evt of client.libp2p.services.dht.provide(cid, { signal: AbortSignal.timeout(30_000) })) {
      if (evt.name === 'PEER_RESPONSE') stored++
    }
    assert.ok(stored >= 1, 'the provide got an answer from the server')
  })
})
