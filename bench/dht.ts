/**
 * Benchmark 4, DHT: time, hops and queries to find a peer by PeerId, a public and a NATed
 * target, in swarms of 10, 25 and 50 burrow nodes on loopback (many nodes per process; see
 * bench/peers/dht-swarm.ts and bench/README.md for why loopback). Each node's k-buckets hold
 * at most ROUTED_K peers, so routing tables are partial and lookups really route (with
 * kad-dht's default k = 20 every node of a 50-node swarm knows every other: one query). The
 * baseline is the largest swarm again with kad-dht's default k, in the same run.
 */
import { join } from 'node:path'
import { summarizeOrNull } from './stats.ts'
import { parseReports, startHelper } from './proc.ts'
import type { BenchContext, BenchOutput, Benchmark, Figure, Size } from './report.ts'

interface Plan { sizes: number[], lookups: number }
const PLANS: Record<Size, Plan> = {
  smoke: { sizes: [6], lookups: 2 },
  quick: { sizes: [10, 25], lookups: 10 },
  full: { sizes: [10, 25, 50], lookups: 50 }
}
/**
 * k-bucket size of the routed swarms: a node then knows ~2·log2(N) of N peers (about 12 of
 * 50), the share a node with kad-dht's k = 20 knows of a swarm of thousands.
 */
export const ROUTED_K = 2
const DEFAULT_K = 20

interface Lookup { target: 'public' | 'nated', ms: number, queries: number, hops: number, ok: boolean }
interface Swarm { lookups: Lookup[], routingTableMedian: number }

async function runSwarm (ctx: BenchContext, n: number, k: number, lookups: number): Promise<Swarm> {
  const helper = await startHelper('dht-swarm', ['--nodes', String(n), '--lookups', String(lookups), '--k', String(k), '--home', join(ctx.tmpDir, `dht-${n}-k${k}`)])
  try {
    const swarm = await helper.report<{ routingTableMedian: number }>('swarm', 120_000)
    await helper.report('done', 30_000 + lookups * 2 * 11_000)
    return { lookups: parseReports(helper.output).filter(r => r.type === 'lookup') as unknown as Lookup[], routingTableMedian: swarm.routingTableMedian }
  } finally {
    await helper.stop()
  }
}

export const dht: Benchmark = {
  name: 'dht',
  title: 'DHT: find a peer by PeerId',
  async run (ctx: BenchContext): Promise<BenchOutput> {
    const plan = PLANS[ctx.size]
    const figures: Figure[] = []
    const notes: string[] = []
    const largest = Math.max(...plan.sizes)
    ctx.log(`dht: baseline swarm of ${largest}, kad-dht's default k = ${DEFAULT_K}`)
    const baseline = await runSwarm(ctx, largest, DEFAULT_K, plan.lookups)
    notes.push(`${largest} nodes, k = ${DEFAULT_K} (baseline): median routing table ${baseline.routingTableMedian} peers when lookups began`)
    for (const n of plan.sizes) {
      ctx.log(`dht: swarm of ${n}, k = ${ROUTED_K}, ${plan.lookups} lookups per target`)
      const swarm = await runSwarm(ctx, n, ROUTED_K, plan.lookups)
      notes.push(`${n} nodes, k = ${ROUTED_K}: median routing table ${swarm.routingTableMedian} peers when lookups began`)
      for (const target of ['public', 'nated'] as const) {
        const mine = swarm.lookups.filter(l => l.target === target)
        const ok = mine.filter(l => l.ok)
        const rate = mine.length === 0 ? 0 : ok.length / mine.length * 100
        const time = summarizeOrNull(ok.map(l => l.ms))
        const p6 = target === 'nated' && n === 50
        const base = n === largest ? baseline.lookups.filter(l => l.target === target && l.ok) : undefined
        const baseLabel = `same swarm, kad-dht's default k = ${DEFAULT_K} (every node knows every other)`
        const noneOk = ok.length === 0 ? { note: 'no lookup succeeded' } : {}
        figures.push({
          key: `dht.${n}.${target}.time`,
          label: `find ${target === 'nated' ? 'a NATed' : 'a public'} peer, ${n} nodes, k = ${ROUTED_K} (${ok.length}/${mine.length} found)`,
          unit: 'ms',
          value: time,
          ...noneOk,
          ...(base !== undefined ? { baseline: { label: baseLabel, value: summarizeOrNull(base.map(l => l.ms)) } } : {}),
          ...(p6
            ? {
                target: {
                  id: 'P6',
                  goal: '100% found, median ≤ 1 s',
                  met: time == null ? false : rate === 100 && time.median <= 1000,
                  detail: `${rate.toFixed(0)}% found; loopback swarm (no added delay), partial routing tables (k = ${ROUTED_K}), kad-dht findPeer`
                }
              }
            : {})
        })
        figures.push({
          key: `dht.${n}.${target}.hops`,
          label: `hops per lookup (sequential request rounds to the answer), ${target}, ${n} nodes`,
          unit: 'hops',
          value: summarizeOrNull(ok.map(l => l.hops)),
          ...noneOk,
          ...(base !== undefined ? { baseline: { label: baseLabel, value: summarizeOrNull(base.map(l => l.hops)) } } : {})
        })
        figures.push({
          key: `dht.${n}.${target}.queries`,
          label: `DHT servers queried per lookup, ${target}, ${n} nodes`,
          unit: 'queries',
          value: summarizeOrNull(ok.map(l => l.queries)),
          ...noneOk,
          ...(base !== undefined ? { baseline: { label: baseLabel, value: summarizeOrNull(base.map(l => l.queries)) } } : {})
        })
        figures.push({
          key: `dht.${n}.${target}.success`,
          label: `lookups that found the ${target} peer, ${n} nodes`,
          unit: '%',
          value: mine.length === 0 ? null : summarizeOrNull([rate]),
          ...(mine.length === 0 ? { note: 'no lookups ran' } : {})
        })
      }
    }
    if (!plan.sizes.includes(50)) notes.push('P6 needs the 50-node swarm: not in this run size')
    return { status: 'ok', figures, notes, params: { ...plan, k: ROUTED_K, baselineK: DEFAULT_K, where: 'loopback, one process' } }
  }
}
