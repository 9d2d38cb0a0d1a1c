/**
 * Benchmark 4, DHT: time, hops and queries to find a peer by PeerId, a public and a NATed
 * target, in swarms of burrow nodes on loopback built so that lookups really route (see
 * bench/peers/dht-swarm.ts and bench/README.md): k-buckets of ROUTED_K peers, each node
 * bootstrapping from a random earlier one, targets that join late and are known only to
 * their neighbours and the servers holding them in their routing tables, peer stores reset
 * to that shape before each lookup, and DELAY_MS one way on every DHT message. The baseline
 * is the largest swarm again, built the same way, with kad-dht's default k, in the same run.
 */
import { join } from 'node:path'
import { summarizeOrNull } from './stats.ts'
import { parseReports, startHelper } from './proc.ts'
import type { BenchContext, BenchOutput, Benchmark, Figure, Size } from './report.ts'

/** baselineLookups: fewer, as the k = 20 swarm costs ~3× the time to build and reset */
interface Plan { sizes: number[], lookups: number, baselineLookups: number }
const PLANS: Record<Size, Plan> = {
  smoke: { sizes: [6], lookups: 2, baselineLookups: 2 },
  quick: { sizes: [25], lookups: 10, baselineLookups: 5 },
  full: { sizes: [25, 50], lookups: 25, baselineLookups: 10 }
}
/**
 * k-bucket size of the routed swarms: a node then knows ~2·log2(N) of N peers (about 9 of
 * 50), the share a node with kad-dht's k = 20 knows of a swarm of thousands.
 */
export const ROUTED_K = 2
const DEFAULT_K = 20
/** one-way delay on every DHT request and response (a query costs 2·DELAY_MS; P6 says 10 ms per hop) */
export const DELAY_MS = 10

interface Lookup { target: 'public' | 'nated', ms: number, queries: number, hops: number, ok: boolean, knownBy: number, far?: boolean, walks?: number }
interface Swarm { lookups: Lookup[], routingTableMedian: number, publicKnownBy: number, natedKnownBy: number }

async function runSwarm (ctx: BenchContext, n: number, k: number, lookups: number): Promise<Swarm> {
  const helper = await startHelper('dht-swarm', ['--nodes', String(n), '--lookups', String(lookups), '--k', String(k), '--delay', String(DELAY_MS), '--home', join(ctx.tmpDir, `dht-${n}-k${k}`)])
  try {
    const swarm = await helper.report<{ routingTableMedian: number, publicKnownBy: number, natedKnownBy: number }>('swarm', 120_000)
    await helper.report('done', 30_000 + lookups * 2 * 11_000)
    return { lookups: parseReports(helper.output).filter(r => r.type === 'lookup') as unknown as Lookup[], ...swarm }
  } finally {
    await helper.stop()
  }
}

function describe (n: number, k: number, s: Swarm): string {
  const max = (target: string): number => Math.max(0, ...s.lookups.filter(l => l.target === target && l.ok).map(l => l.hops))
  const known = (target: string): string => {
    const mine = s.lookups.filter(l => l.target === target).map(l => l.knownBy).sort((a, b) => a - b)
    return mine.length === 0 ? 'no lookups' : `${mine[mine.length >> 1] ?? 0}`
  }
  const far = (target: string): string => {
    const mine = s.lookups.filter(l => l.target === target)
    return `${mine.filter(l => l.far === true).length} of ${mine.length}`
  }
  const again = (target: string): string => {
    const mine = s.lookups.filter(l => l.target === target && l.ok && (l.walks ?? 1) > 1)
    return `${mine.length} found on a later walk`
  }
  return `${n} nodes, k = ${k}: median routing table ${s.routingTableMedian} peers; ` +
    `the public target known to ${known('public')} of ${n - 1} nodes (median over lookups), max ${max('public')} hops, ${far('public')} lookups from a node two steps away, ${again('public')}; ` +
    `the NATed target known to ${known('nated')}, max ${max('nated')} hops, ${far('nated')} from two steps away, ${again('nated')}`
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
    const baseline = await runSwarm(ctx, largest, DEFAULT_K, plan.baselineLookups)
    notes.push(`${describe(largest, DEFAULT_K, baseline)} (baseline)`)
    for (const n of plan.sizes) {
      ctx.log(`dht: swarm of ${n}, k = ${ROUTED_K}, ${plan.lookups} lookups per target`)
      const swarm = await runSwarm(ctx, n, ROUTED_K, plan.lookups)
      notes.push(describe(n, ROUTED_K, swarm))
      for (const target of ['public', 'nated'] as const) {
        const mine = swarm.lookups.filter(l => l.target === target)
        const ok = mine.filter(l => l.ok)
        const rate = mine.length === 0 ? 0 : ok.length / mine.length * 100
        const time = summarizeOrNull(ok.map(l => l.ms))
        const hops = summarizeOrNull(ok.map(l => l.hops))
        const p6 = target === 'nated' && n === 50
        const base = n === largest ? baseline.lookups.filter(l => l.target === target && l.ok) : undefined
        const baseLabel = `same swarm, kad-dht's default k = ${DEFAULT_K} (${base?.length ?? 0}/${plan.baselineLookups} found)`
        const noneOk = ok.length === 0 ? { note: 'no lookup succeeded' } : {}
        figures.push({
          key: `dht.${n}.${target}.time`,
          label: `find ${target === 'nated' ? 'a NATed' : 'a public'} peer, ${n} nodes, k = ${ROUTED_K}, ${DELAY_MS} ms one way per message (${ok.length}/${mine.length} found)`,
          unit: 'ms',
          value: time,
          ...noneOk,
          ...(base !== undefined ? { baseline: { label: baseLabel, value: summarizeOrNull(base.map(l => l.ms)) } } : {}),
          ...(p6
            ? {
                target: {
                  id: 'P6',
                  goal: '100% found, median ≤ 1 s',
                  met: time == null || hops == null ? false : rate === 100 && time.median <= 1000 && hops.median >= 2,
                  detail: `${rate.toFixed(0)}% found, median ${hops?.median ?? 0} hops (routed: ≥ 2 asked); loopback swarm, ${DELAY_MS} ms one way per DHT message, k = ${ROUTED_K}, burrow's walk (kad-dht findPeer, up to 3 walks)`
                }
              }
            : {})
        })
        figures.push({
          key: `dht.${n}.${target}.hops`,
          label: `hops per lookup (sequential request rounds to the answer), ${target}, ${n} nodes`,
          unit: 'hops',
          value: hops,
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
    return { status: 'ok', figures, notes, params: { ...plan, k: ROUTED_K, baselineK: DEFAULT_K, delayMsOneWay: DELAY_MS, where: 'loopback, one process, delay added in-process per DHT message' } }
  }
}
