/**
 * `status.dht.routingTable` is the DHT's own routing-table size: three DHT servers on
 * loopback, each bootstrapped from the first, each report the peers their DHT holds.
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
})
