/**
 * Benchmark 4, DHT: time and hops to find a peer by PeerId, a public and a NATed target,
 * in swarms of 10, 25 and 50 burrow nodes on loopback (many nodes per process; see
 * bench/peers/dht-swarm.ts and bench/README.md for why loopback).
 */
import { join } from 'node:path'
import { summarizeOrNull } from './stats.ts'
import { parseReports, startHelper } from './proc.ts'
import type { BenchContext, BenchOutput, Benchmark, Figure, Size } from './report.ts'

interface Plan { sizes: number[], lookups: number }
const PLANS: Record<Size, Plan> = {
  smoke: { sizes: [4], lookups: 2 },
  quick: { sizes: [10, 25], lookups: 10 },
  full: { sizes: [10, 25, 50], lookups: 50 }
}

interface Lookup { target: 'public' | 'nated', ms: number, queries: number, ok: boolean }

export const dht: Benchmark = {
  name: 'dht',
  title: 'DHT: find a peer by PeerId',
  async run (ctx: BenchContext): Promise<BenchOutput> {
    const plan = PLANS[ctx.size]
    const figures: Figure[] = []
    const notes: string[] = []
    for (const n of plan.sizes) {
      ctx.log(`dht: swarm of ${n}, ${plan.lookups} lookups per target`)
      const helper = await startHelper('dht-swarm', ['--nodes', String(n), '--lookups', String(plan.lookups), '--home', join(ctx.tmpDir, `dht-${n}`)])
      let lookups: Lookup[]
      try {
        const swarm = await helper.report<{ routingTableMedian: number }>('swarm', 120_000)
        await helper.report('done', 30_000 + plan.lookups * 2 * 11_000)
        lookups = parseReports(helper.output).filter(r => r.type === 'lookup') as unknown as Lookup[]
        notes.push(`${n} nodes: median routing table ${swarm.routingTableMedian} peers when lookups began`)
      } finally {
        await helper.stop()
      }
      for (const target of ['public', 'nated'] as const) {
        const mine = lookups.filter(l => l.target === target)
        const ok = mine.filter(l => l.ok)
        const rate = mine.length === 0 ? 0 : ok.length / mine.length * 100
        const time = summarizeOrNull(ok.map(l => l.ms))
        const p6 = target === 'nated' && n === 50
        figures.push({
          key: `dht.${n}.${target}.time`,
          label: `find ${target === 'nated' ? 'a NATed' : 'a public'} peer, ${n} nodes (${ok.length}/${mine.length} found)`,
          unit: 'ms',
          value: time,
          ...(time == null ? { note: 'no lookup succeeded' } : {}),
          ...(p6
            ? {
                target: {
                  id: 'P6',
                  goal: '100% found, median ≤ 1 s',
                  met: time == null ? false : rate === 100 && time.median <= 1000,
                  detail: `${rate.toFixed(0)}% found; loopback swarm, kad-dht findPeer`
                }
              }
            : {})
        })
        figures.push({
          key: `dht.${n}.${target}.hops`,
          label: `DHT servers queried per lookup, ${target}, ${n} nodes`,
          unit: 'queries',
          value: summarizeOrNull(ok.map(l => l.queries)),
          ...(ok.length === 0 ? { note: 'no lookup succeeded' } : {})
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
    return { status: 'ok', figures, notes, params: { ...plan, where: 'loopback, one process' } }
  }
}
