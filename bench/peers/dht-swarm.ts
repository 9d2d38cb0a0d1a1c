/**
 * Helper for bench/dht.ts: a swarm of N burrow nodes in this one process, on 127.0.0.1, in
 * their own network (`/burrow/kad/1.0.0`), every node bootstrapping from node 0 only.
 *
 * Partial routing tables (`--k K`, default 20 = kad-dht's own): each node's k-buckets hold
 * at most K peers. With kad-dht's defaults a 50-node swarm fits whole in every table (up to
 * 2^6 buckets × 20), so a lookup asks one server that already knows the target: one query,
 * nothing routed. With K = 2 a node knows ~2·log2(N) peers, the share of the swarm a node
 * with k = 20 knows in a swarm of thousands, and a lookup must walk closer hop by hop. The
 * bucket size is set on each node's routing table after start (burrow does not expose it:
 * a deployment has no reason to shrink it), before the node meets any peer but node 0.
 * Nodes start 250 ms apart: libp2p accepts at most 5 inbound connections per second from
 * one IP address, and every node here dials from 127.0.0.1.
 *
 * Two targets: a public one (a DHT server like the rest) and a NATed one: a DHT client
 * that serves nobody and sits in no routing table, as a node behind a NAT does; on loopback
 * its addresses are still dialable (the lab is where that differs).
 *
 * Then `--lookups` lookups per target, each from a random other node, sequentially:
 * kad-dht findPeer without the peer store cache; timed until the FINAL_PEER event. Queries =
 * the PEER_RESPONSE events before it (DHT servers that answered); hops = how many sequential
 * request rounds led to the answer: a server the lookup started with is hop 1, a server first
 * named in hop d's answer is hop d + 1, and the figure is the hop of the server whose answer
 * named the target. Reports {type:'lookup', target, ms, queries, hops, ok} per lookup, then
 * {type:'done'}.
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createNode } from '../../dist/index.js'
import { report, sleep } from '../proc.ts'
import type { BurrowNode } from '../../dist/index.js'

const { values: opts } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10' },
    lookups: { type: 'string', default: '10' },
    home: { type: 'string', default: '/tmp/burrow-bench-dht' },
    stagger: { type: 'string', default: '250' },
    timeout: { type: 'string', default: '10000' },
    k: { type: 'string', default: '20' }
  }
})
const N = Number(opts.nodes)
const LOOKUPS = Number(opts.lookups)
const STAGGER = Number(opts.stagger)
const TIMEOUT = Number(opts.timeout)
const K = Number(opts.k)
if (!Number.isInteger(K) || K < 1 || K > 20) throw new Error(`BAD_K: --k ${opts.k ?? ''} is not a bucket size; give 1 to 20`)

/** kad-dht's k-bucket trie (its fields are plain properties; read, not patched, in node_modules) */
interface KBucketTrie { kBucketSize: number, splitThreshold: number }

function limitRoutingTable (node: BurrowNode): void {
  const dht = node.libp2p.services.dht as unknown as { routingTable?: { kb?: KBucketTrie } }
  const kb = dht.routingTable?.kb
  if (kb === undefined || typeof kb.kBucketSize !== 'number') throw new Error('this kad-dht has no routingTable.kb.kBucketSize to limit')
  kb.kBucketSize = K
  kb.splitThreshold = K
}

const nodes: BurrowNode[] = []

async function start (i: number, bootstrap: string[], client: boolean): Promise<BurrowNode> {
  const node = await createNode({
    home: join(opts.home ?? '', `n${i}`),
    config: {
      network: 'bench-dht',
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap,
      portMapping: 'off',
      // nothing to punch on loopback; a fixed TCP dial port per node (DCUtR's) would only add
      // simultaneous-open collisions between nodes that dial each other
      holePunch: false,
      udpPunch: false,
      // no relay service and no reservations: with relayServer 'auto' a node caps inbound
      // connections per IP at relay.maxPerIp (8) even while it offers no relay, and every
      // node here connects from 127.0.0.1
      relayServer: 'off',
      'relay.reservations': 0,
      dhtMode: client ? 'client' : 'server'
    }
  })
  await node.start()
  limitRoutingTable(node)
  nodes.push(node)
  return node
}

async function routingTableSize (node: BurrowNode): Promise<number> {
  const dht = node.libp2p.services.dht as unknown as { routingTable?: { size: number } }
  return dht.routingTable?.size ?? 0
}

try {
  const first = await start(0, [], false)
  const boot = [`${(await first.status()).addresses.listen[0] ?? ''}/p2p/${first.peerId.toString()}`]
  // the NATed target is the second node, so it has long been around when lookups start
  for (let i = 1; i < N; i++) {
    await sleep(STAGGER)
    await start(i, boot, i === 1)
  }
  const publicTarget = nodes[N - 1]
  const natTarget = nodes[1]
  if (publicTarget === undefined || natTarget === undefined || N < 3) throw new Error('need at least 3 nodes')
  // settle: every server knows a few peers (or 5 s pass)
  const deadline = Date.now() + 5000
  while (Date.now() < deadline) {
    const sizes = await Promise.all(nodes.filter(n => n !== natTarget).map(routingTableSize))
    if (Math.min(...sizes) >= Math.min(3, N - 2)) break
    await sleep(250)
  }
  const tables = await Promise.all(nodes.map(routingTableSize))
  report({ type: 'swarm', nodes: N, routingTableMedian: tables.sort((a, b) => a - b)[N >> 1] })

  for (const [label, target] of [['public', publicTarget], ['nated', natTarget]] as const) {
    const others = nodes.filter(n => n !== target)
    for (let k = 0; k < LOOKUPS; k++) {
      const from = others[Math.floor(Math.random() * others.length)] ?? others[0]
      if (from === undefined) break
      let queries = 0
      let ok = false
      let hops = 0
      // hop of each server: 1 for those the lookup starts with, d + 1 for one first named by a hop-d server
      const hop = new Map<string, number>()
      const t0 = performance.now()
      try {
        for await (const evt of from.libp2p.services.dht.findPeer(target.peerId, { signal: AbortSignal.timeout(TIMEOUT), useCache: false })) {
          if (evt.name === 'PEER_RESPONSE') {
            queries++
            const d = hop.get(evt.from.toString()) ?? 1
            hop.set(evt.from.toString(), d)
            for (const p of evt.closer) if (!hop.has(p.id.toString())) hop.set(p.id.toString(), d + 1)
          }
          if (evt.name === 'FINAL_PEER') {
            ok = true
            hops = hop.get(evt.from.toString()) ?? 1
            break
          }
        }
      } catch {}
      report({ type: 'lookup', target: label, ms: performance.now() - t0, queries, hops, ok })
    }
  }
  report({ type: 'done' })
} finally {
  await Promise.allSettled(nodes.map(async n => { await n.stop() }))
}
process.exit(0)
