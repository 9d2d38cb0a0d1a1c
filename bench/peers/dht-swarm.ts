/**
 * Helper for bench/dht.ts: a swarm of N burrow nodes in this one process, on 127.0.0.1, in
 * their own network (`/burrow/kad/1.0.0`), every node bootstrapping from node 0 only.
 * Nodes start 250 ms apart: libp2p accepts at most 5 inbound connections per second from
 * one IP address, and every node here dials from 127.0.0.1.
 *
 * Two targets: a public one (a DHT server like the rest) and a NATed one: a DHT client
 * that serves nobody and sits in no routing table, as a node behind a NAT does; on loopback
 * its addresses are still dialable (the lab is where that differs).
 *
 * Then `--lookups` lookups per target, each from a random other node, sequentially:
 * kad-dht findPeer without the peer store cache; timed until the FINAL_PEER event; hops
 * counted as the PEER_RESPONSE events before it (DHT servers that answered). Reports
 * {type:'lookup', target, ms, queries, ok} per lookup, then {type:'done'}.
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
    timeout: { type: 'string', default: '10000' }
  }
})
const N = Number(opts.nodes)
const LOOKUPS = Number(opts.lookups)
const STAGGER = Number(opts.stagger)
const TIMEOUT = Number(opts.timeout)

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
      const t0 = performance.now()
      try {
        for await (const evt of from.libp2p.services.dht.findPeer(target.peerId, { signal: AbortSignal.timeout(TIMEOUT), useCache: false })) {
          if (evt.name === 'PEER_RESPONSE') queries++
          if (evt.name === 'FINAL_PEER') { ok = true; break }
        }
      } catch {}
      report({ type: 'lookup', target: label, ms: performance.now() - t0, queries, ok })
    }
  }
  report({ type: 'done' })
} finally {
  await Promise.allSettled(nodes.map(async n => { await n.stop() }))
}
process.exit(0)
