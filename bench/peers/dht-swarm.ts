/**
 * Helper for bench/dht.ts: a swarm of N burrow nodes in this one process, on 127.0.0.1, in
 * their own network (`/burrow/kad/1.0.0`), built so that a lookup routes as it would in a
 * large public swarm, where no server has met most of the network.
 *
 * - **Partial routing tables** (`--k K`, default 20 = kad-dht's own): each node's k-buckets
 *   hold at most K peers, set on its routing table after start (burrow does not expose it: a
 *   deployment has no reason to shrink it), before the node meets any peer but its bootstrap
 *   node. With K = 2 a node knows ~2·log2(N) peers, the share of the swarm a node with
 *   k = 20 knows in a swarm of thousands.
 * - **No hub.** Node i bootstraps from one random earlier node (not all from node 0), started
 *   `--stagger` ms apart (libp2p accepts at most 5 inbound connections per second from one IP
 *   address, and every node here dials from 127.0.0.1).
 * - **Late targets.** Once the rest has settled, the two targets join, each bootstrapping
 *   from one random node other than node 0: a public one (a DHT server) and a NATed one (a
 *   DHT client: it serves nobody and sits in no routing table, as a node behind a NAT does;
 *   on loopback its addresses are still dialable). Each runs kad-dht's self-lookup on start,
 *   as every node does, so the servers nearest its id meet it. Its connections then (its
 *   "neighbours") are kept for the whole run.
 * - **Peer stores hold what a node in a large swarm would know.** kad-dht's FIND_NODE handler
 *   answers from the server's peer store as well as its routing table, and in a swarm of 50
 *   on one host every node soon meets every other (identify on each connection, every peer
 *   named in a lookup's answers, routing-table refresh walks): a lookup would then end at the
 *   first server asked. So before each lookup the swarm is reset to its routed shape: every
 *   connection between two nodes that are not in each other's routing table (and not a
 *   target with its neighbour) is closed, and a node's peer store keeps a target only while
 *   the target is in its routing table or connected to it (the only peer-store entry a
 *   FIND_NODE answer adds is the key's own; the rest comes from the routing table). Each lookup is thus the first one for its target,
 *   from a node that does not know it (a node whose peer store holds the target is not picked
 *   as the querier), through servers that know only their routing tables and neighbours.
 * - **Delay** (`--delay D`, default 10 ms, one way): every DHT request and every response
 *   waits D ms in this process (a wrapper around each node's kad-dht `network.sendRequest`,
 *   on the querying side), so a query costs one RTT = 2·D; a query to a server the querier is
 *   not connected to first pays 2 more RTTs (TCP handshake, Noise XX; multistream-select is
 *   not charged). The wrapper is on the node's object at run time, not in node_modules.
 *
 * Then `--lookups` lookups per target, each from a random node that does not know the target
 * and whose routing table holds no node that knows it (where the swarm has one; else from
 * any node that does not know it, else any other node), sequentially: burrow's own DHT walk
 * (src/swarm/find-peer.ts: kad-dht findPeer without the peer store cache, walked again, up to
 * 3 walks, when a walk ends without the target); timed until the answer that names it.
 * Queries = the PEER_RESPONSE events before it, over all walks (DHT servers that answered);
 * hops = how many sequential request rounds of the walk that found it led to the answer: a
 * server the walk started with is hop 1, a server first named in hop d's answer is hop d + 1,
 * and the figure is the hop of the server whose answer named the target. Reports
 * {type:'swarm', …}, then {type:'lookup', target, ms, queries, hops, ok, knownBy, far, walks}
 * per lookup, then {type:'done'}.
 */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createNode } from '../../dist/index.js'
import { findPeerWalking } from '../../dist/swarm/find-peer.js'
import { report, sleep } from '../proc.ts'
import type { BurrowNode } from '../../dist/index.js'

const { values: opts } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10' },
    lookups: { type: 'string', default: '10' },
    home: { type: 'string', default: '/tmp/burrow-bench-dht' },
    stagger: { type: 'string', default: '250' },
    timeout: { type: 'string', default: '10000' },
    k: { type: 'string', default: '20' },
    delay: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' }
  }
})
const N = Number(opts.nodes)
const LOOKUPS = Number(opts.lookups)
const STAGGER = Number(opts.stagger)
const TIMEOUT = Number(opts.timeout)
const K = Number(opts.k)
const DELAY = Number(opts.delay)
if (!Number.isInteger(K) || K < 1 || K > 20) throw new Error(`BAD_K: --k ${opts.k ?? ''} is not a bucket size; give 1 to 20`)
if (!Number.isInteger(N) || N < 5) throw new Error(`BAD_NODES: --nodes ${opts.nodes ?? ''} is too few; give 5 or more (3 to route through, 2 targets)`)
if (!Number.isFinite(DELAY) || DELAY < 0 || DELAY > 1000) throw new Error(`BAD_DELAY: --delay ${opts.delay ?? ''} is not a one-way delay in ms; give 0 to 1000`)

/** a small seeded PRNG (mulberry32), so a swarm's shape can be repeated with --seed */
let state = Number(opts.seed) >>> 0
function random (): number {
  state = (state + 0x6D2B79F5) >>> 0
  let t = state
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
function pick<T> (list: T[]): T {
  const item = list[Math.floor(random() * list.length)]
  if (item === undefined) throw new Error('pick from an empty list')
  return item
}

/** the parts of kad-dht's object this helper reads or wraps (plain properties; node_modules is not patched) */
interface KadParts {
  routingTable?: { size: number, remove?: (peer: BurrowNode['peerId']) => Promise<void>, kb?: { kBucketSize: number, splitThreshold: number, toIterable: () => Iterable<{ peerId: { toString: () => string } }> } }
  network?: { sendRequest: (to: { toString: () => string }, msg: unknown, options?: { signal?: AbortSignal }) => AsyncGenerator<{ name: string }> }
}
function kad (node: BurrowNode): KadParts { return node.libp2p.services.dht as unknown as KadParts }

function limitRoutingTable (node: BurrowNode): void {
  const kb = kad(node).routingTable?.kb
  if (kb === undefined || typeof kb.kBucketSize !== 'number') throw new Error('this kad-dht has no routingTable.kb.kBucketSize to limit')
  kb.kBucketSize = K
  kb.splitThreshold = K
}

/** every DHT request and response of this node waits DELAY ms; a new connection 2 more RTTs */
function delayMessages (node: BurrowNode): void {
  const network = kad(node).network
  if (network === undefined || typeof network.sendRequest !== 'function') throw new Error('this kad-dht has no network.sendRequest to delay')
  if (DELAY === 0) return
  const send = network.sendRequest.bind(network)
  network.sendRequest = async function * (to, msg, options) {
    const connected = node.libp2p.getConnections(to as never).length > 0
    await sleep(connected ? DELAY : DELAY + 4 * DELAY, options?.signal)
    for await (const evt of send(to, msg, options)) {
      if (evt.name === 'PEER_RESPONSE') await sleep(DELAY, options?.signal)
      yield evt
    }
  }
}

function routingTablePeers (node: BurrowNode): Set<string> {
  const out = new Set<string>()
  for (const p of kad(node).routingTable?.kb?.toIterable() ?? []) out.add(p.peerId.toString())
  return out
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
  delayMessages(node)
  nodes.push(node)
  return node
}

async function addressOf (node: BurrowNode): Promise<string> {
  return `${(await node.status()).addresses.listen[0] ?? ''}/p2p/${node.peerId.toString()}`
}

/** pairs "a b" (both orders) of a target and a neighbour: their connections stay */
const neighbours = new Set<string>()
/** the targets and their PeerIds */
const targets = new Set<string>()
const targetNodes: BurrowNode[] = []

/** a node's Kademlia id (kad-dht's: SHA-256 of the PeerId's multihash) */
function kadId (node: BurrowNode): Buffer {
  return createHash('sha256').update(node.peerId.toMultihash().bytes).digest()
}
function xor (a: Buffer, b: Buffer): Buffer {
  return Buffer.from(a.map((x, i) => x ^ (b[i] ?? 0)))
}

/** [querier, target] of every lookup so far: the querier is made to forget the target again */
const asked: Array<[BurrowNode, BurrowNode]> = []

/**
 * Undo what the lookups taught their queriers (after finding a peer, kad-dht puts it in the
 * querier's routing table, and the querier connects to it), close every connection outside
 * routing tables and neighbours; a node's peer store keeps a target only while the target is
 * in its routing table or connected to it.
 */
async function reset (): Promise<void> {
  for (const [q, t] of asked) {
    await kad(q).routingTable?.remove?.(t.peerId)
    for (const c of q.libp2p.getConnections(t.peerId)) await c.close().catch(err => { c.abort(err) })
  }
  const tables = new Map(nodes.map(n => [n.peerId.toString(), routingTablePeers(n)]))
  await Promise.all(nodes.map(async n => {
    const me = n.peerId.toString()
    for (const c of n.libp2p.getConnections()) {
      const other = c.remotePeer.toString()
      if (neighbours.has(`${me} ${other}`)) continue
      // a target stays connected only to its neighbours and to servers that hold it in their
      // routing table: a target's own table names peers that need not know it back
      if (targets.has(me) ? tables.get(other)?.has(me) === true : targets.has(other) ? tables.get(me)?.has(other) === true : tables.get(me)?.has(other) === true || tables.get(other)?.has(me) === true) continue
      await c.close().catch(err => { c.abort(err) })
    }
  }))
  // only the targets' entries matter: a server's FIND_NODE answer adds a peer-store entry
  // only for the key asked for (kad-dht's getClosestPeersOffline), the rest comes from its
  // routing table, whose entries are kept
  await Promise.all(nodes.map(async n => {
    for (const t of targetNodes) {
      if (t === n || tables.get(n.peerId.toString())?.has(t.peerId.toString()) === true || n.libp2p.getConnections(t.peerId).length > 0) continue
      if (await n.libp2p.peerStore.has(t.peerId)) await n.libp2p.peerStore.delete(t.peerId)
    }
  }))
}

/** the PeerIds in a node's k-buckets */
function routingTableIds (node: BurrowNode): string[] {
  return [...(kad(node).routingTable?.kb?.toIterable() ?? [])].map(c => c.peerId.toString())
}

async function knows (node: BurrowNode, target: BurrowNode): Promise<boolean> {
  return await node.libp2p.peerStore.has(target.peerId)
}

const setupStart = performance.now()
const resetMs: number[] = []
try {
  // the swarm to route through: node i bootstraps from one random earlier node
  const addrs: string[] = []
  for (let i = 0; i < N - 2; i++) {
    if (i > 0) await sleep(STAGGER)
    const boot = i === 0 ? [] : [pick(addrs)]
    addrs.push(await addressOf(await start(i, boot, false)))
  }
  // settle: every server knows a few peers (or 5 s pass)
  const settle = async (): Promise<void> => {
    const deadline = Date.now() + 5000
    while (Date.now() < deadline) {
      const sizes = nodes.filter(n => n.libp2p.services.dht.getMode() === 'server').map(n => kad(n).routingTable?.size ?? 0)
      if (Math.min(...sizes) >= Math.min(3, N - 3)) break
      await sleep(250)
    }
  }
  await settle()
  // the targets join late, each from one random node other than node 0
  await sleep(STAGGER)
  const publicVia = pick(nodes.slice(1))
  const publicTarget = await start(N - 2, [await addressOf(publicVia)], false)
  await sleep(STAGGER)
  const natVia = pick(nodes.slice(1, N - 2))
  const natTarget = await start(N - 1, [await addressOf(natVia)], true)
  targets.add(publicTarget.peerId.toString())
  targets.add(natTarget.peerId.toString())
  targetNodes.push(publicTarget, natTarget)
  await settle()
  // their self-lookups: give them time to reach the servers nearest their ids
  await sleep(2000 + 20 * DELAY)
  // a target's neighbours: the node it joined through and the K servers nearest its id (where
  // its self-lookup ends; in a large swarm, what a node stays connected to is a small share)
  for (const [t, via] of [[publicTarget, publicVia], [natTarget, natVia]] as const) {
    const near = nodes.filter(n => n !== publicTarget && n !== natTarget)
      .sort((a, b) => Buffer.compare(xor(kadId(a), kadId(t)), xor(kadId(b), kadId(t))))
      .slice(0, K)
    for (const n of [via, ...near]) {
      neighbours.add(`${t.peerId.toString()} ${n.peerId.toString()}`)
      neighbours.add(`${n.peerId.toString()} ${t.peerId.toString()}`)
      if (t.libp2p.getConnections(n.peerId).length === 0) await t.libp2p.dial(n.peerId).catch(() => {})
    }
  }
  await reset()
  const tables = nodes.map(n => kad(n).routingTable?.size ?? 0).sort((a, b) => a - b)
  const knownBy = async (t: BurrowNode): Promise<number> => (await Promise.all(nodes.filter(n => n !== t).map(async n => await knows(n, t)))).filter(Boolean).length
  report({ type: 'swarm', nodes: N, setupMs: Math.round(performance.now() - setupStart), routingTableMedian: tables[N >> 1], publicKnownBy: await knownBy(publicTarget), natedKnownBy: await knownBy(natTarget) })

  for (const [label, target] of [['public', publicTarget], ['nated', natTarget]] as const) {
    for (let l = 0; l < LOOKUPS; l++) {
      const r0 = performance.now()
      await reset()
      resetMs.push(performance.now() - r0)
      const strangers: BurrowNode[] = []
      const knowers = new Set<string>()
      for (const n of nodes) {
        if (n === target) continue
        if (await knows(n, target)) knowers.add(n.peerId.toString())
        else strangers.push(n)
      }
      // the querier is two steps from the target where the swarm has such a node: it does not
      // know the target and its routing table (where a lookup's first servers come from) holds
      // no node that does, so the answer takes at least one server named by another; in a
      // swarm this small a random stranger often starts next to one of the target's few
      // neighbours and the lookup ends at its first server
      const far = strangers.filter(n => !routingTableIds(n).some(id => knowers.has(id)))
      // in a small swarm with a large k every node may know the target: then any node asks
      const from = pick(far.length > 0 ? far : strangers.length > 0 ? strangers : nodes.filter(n => n !== target))
      let queries = 0
      let ok = false
      let hops = 0
      // hop of each server: 1 for those the lookup starts with, d + 1 for one first named by a hop-d server
      const hop = new Map<string, number>()
      asked.push([from, target])
      const t0 = performance.now()
      let walks = 0
      try {
        // burrow's own walk (what `burrow find` runs): kad-dht findPeer, walked again when a
        // walk ends without the target
        const found = await findPeerWalking(from.libp2p.services.dht, target.peerId, {
          signal: AbortSignal.timeout(TIMEOUT),
          onEvent: (evt, walk) => {
            if (walk !== walks) { walks = walk; hop.clear() }
            if (evt.name === 'PEER_RESPONSE') {
              queries++
              const d = hop.get(evt.from.toString()) ?? 1
              hop.set(evt.from.toString(), d)
              for (const p of evt.closer) if (!hop.has(p.id.toString())) hop.set(p.id.toString(), d + 1)
            }
          }
        })
        if (found !== undefined) {
          ok = true
          hops = hop.get(found.from.toString()) ?? 1
        }
      } catch {}
      report({ type: 'lookup', walks, target: label, ms: performance.now() - t0, queries, hops, ok, knownBy: N - 1 - strangers.length, far: far.includes(from) })
    }
  }
  report({ type: 'done', resetMsMedian: Math.round(resetMs.sort((a, b) => a - b)[resetMs.length >> 1] ?? 0) })
} finally {
  await Promise.allSettled(nodes.map(async n => { await n.stop() }))
}
process.exit(0)
