/**
 * The soak: N burrow nodes, each in its own process on 127.0.0.1 (bench/peers/soak-peer.ts),
 * send messages to each other for a while with connection churn (each peer closes one of its
 * connections every few seconds, so sends redial). The runner reads each node's RSS from
 * /proc every few seconds; the figure is the least-squares slope of RSS over time after a
 * warm-up, in MB per hour, per node. Lost = sent but never delivered to the receiver's
 * 'message' listener; duplicated = delivered (or stored) twice (R6: both 0).
 *
 * Not part of a full `npm run bench` (it is long): `npm run bench -- --only soak` runs it
 * for an hour, `--quick` for 2 minutes, `--minutes N` for N minutes.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { summarizeOrNull } from './stats.ts'
import { parseReports, startHelper } from './proc.ts'
import { rssMb } from './node-cost.ts'
import { daemonMallocEnv } from '../dist/memory/index.js'
import type { Helper } from './proc.ts'
import type { BenchContext, BenchOutput, Benchmark, Figure, Size } from './report.ts'

/**
 * sampleMs: how often the runner reads each node's RSS from /proc (the raw curve); settleMs: how
 * often each node reports its memory right after a memory-reducing full GC (the settled curve,
 * which P8 is judged on). Not more often than once a minute in the hour: each one is a full GC
 * (tens of ms), and it resets V8's heap sizing, which is what the raw curve shows.
 */
interface Plan { peers: number, seconds: number, churnMs: number, sampleMs: number, settleMs: number }
const PLANS: Record<Size, Plan> = {
  smoke: { peers: 4, seconds: 8, churnMs: 1500, sampleMs: 500, settleMs: 500 },
  quick: { peers: 10, seconds: 120, churnMs: 5000, sampleMs: 2000, settleMs: 5000 },
  full: { peers: 10, seconds: 3600, churnMs: 5000, sampleMs: 10_000, settleMs: 60_000 }
}
/** messages each peer sends per second, and at least 1,000 per peer (R6: 10 peers × 1,000 messages) */
const RATE_PER_PEER = 5
const MIN_MESSAGES = 1000
const SMOKE_MESSAGES = 40
/** samples before this share of the run are the warm-up (caches filling, JIT), left out of the slope */
const WARM_UP_SHARE = 0.25

/** Least-squares slope of y over x (both arrays the same length, ≥ 2 points). */
export function slope (x: readonly number[], y: readonly number[]): number {
  const n = x.length
  if (n < 2 || y.length !== n) return Number.NaN
  const mx = x.reduce((a, b) => a + b, 0) / n
  const my = y.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    const dx = (x[i] ?? 0) - mx
    num += dx * ((y[i] ?? 0) - my)
    den += dx * dx
  }
  return den === 0 ? Number.NaN : num / den
}

interface Sent { sent: Record<string, number>, acked: number, rejected: number, pending: number, failed: number, churned: number }
interface Final { received: Record<string, number>, duplicates: number, inboxDuplicates: number, inboxStored: number, malformed: number }

export interface SoakOutcome {
  peers: number
  seconds: number
  messagesPerPeer: number
  sent: number
  delivered: number
  lost: number
  duplicated: number
  inboxDuplicated: number
  rejectedThenRetried: number
  failed: number
  churned: number
  /** MB/hour per node, after the warm-up */
  slopes: number[]
  /** per node: [seconds since start, RSS MB] */
  samples: Array<Array<[number, number]>>
  /** MB/hour per node after the warm-up: the live heap (heapUsed right after a full GC) */
  heapSlopes: number[]
  /** per node: [seconds since start, live heap MB] */
  heapSamples: Array<Array<[number, number]>>
  /** MB/hour per node after the warm-up, for each part of the memory the peers report (PARTS) */
  partSlopes: Record<string, number[]>
  /** per part, per node: [seconds since start, MB] */
  partSamples: Record<string, Array<Array<[number, number]>>>
}

/**
 * The parts of a peer's memory the soak follows (read in the peer right after a memory-reducing
 * full GC): the settled RSS, resident anonymous and file-backed pages, V8's heap capacity and its resident part,
 * and the anonymous pages outside V8's heap (rssAnon − heapPhysical: native allocations,
 * buffers, LevelDB, malloc).
 */
export const PARTS = ['rss', 'rssAnon', 'rssFile', 'heapTotal', 'heapPhysical', 'outsideHeap', 'external'] as const

/** One part of a peer's {type:'heap'} report, in MB (outsideHeap is derived). */
export function part (parts: Record<string, unknown> | undefined, name: typeof PARTS[number]): number {
  const n = (k: string): number => typeof parts?.[k] === 'number' ? parts[k] : Number.NaN
  return name === 'outsideHeap' ? n('rssAnon') - n('heapPhysical') : n(name)
}

/** Runs one soak; `minutes` overrides the plan's duration. */
export async function runSoak (ctx: BenchContext, plan: Plan): Promise<SoakOutcome> {
  const messagesPerPeer = ctx.size === 'smoke' ? SMOKE_MESSAGES : Math.max(MIN_MESSAGES, Math.round(RATE_PER_PEER * plan.seconds))
  const dir = join(ctx.tmpDir, 'soak')
  mkdirSync(dir, { recursive: true })
  const helpers: Helper[] = []
  const samples: Array<Array<[number, number]>> = Array.from({ length: plan.peers }, () => [])
  let sampler: NodeJS.Timeout | undefined
  try {
    for (let i = 0; i < plan.peers; i++) {
      helpers.push(await startHelper('soak-peer', [
        '--index', String(i), '--peers', String(plan.peers), '--dir', dir, '--home', join(dir, `home-${i}`),
        '--messages', String(messagesPerPeer), '--seconds', String(plan.seconds), '--churn-ms', String(plan.churnMs),
        '--heap-ms', String(plan.settleMs)
      // each peer's process runs with the malloc settings the daemon gives itself (src/memory)
      ], { nodeArgs: ['--expose-gc'], env: daemonMallocEnv() }))
    }
    await Promise.all(helpers.map(async h => await h.report('ready', 120_000)))
    const t0 = performance.now()
    const t0Wall = Date.now()
    const sample = (): void => {
      const t = (performance.now() - t0) / 1000
      helpers.forEach((h, i) => { if (h.running) samples[i]?.push([t, rssMb(h.pid)]) })
    }
    sample()
    sampler = setInterval(sample, plan.sampleMs)
    let last = 0
    const progress = setInterval(() => {
      const m = Math.floor((performance.now() - t0) / 60_000)
      if (m > last) { last = m; ctx.log(`soak: ${m} min, RSS ${helpers.map(h => h.running ? rssMb(h.pid).toFixed(0) : '-').join(' ')} MB`) }
    }, 5000)
    let sent: Sent[]
    try {
      sent = await Promise.all(helpers.map(async h => await h.report<Sent>('sent', plan.seconds * 1000 + 300_000)))
    } finally {
      clearInterval(progress)
    }
    clearInterval(sampler)
    sampler = undefined
    writeFileSync(join(dir, 'finish'), '')
    const finals = await Promise.all(helpers.map(async h => await h.report<Final>('final', 60_000)))
    let total = 0
    let delivered = 0
    let lost = 0
    sent.forEach((s, from) => {
      for (const [to, count] of Object.entries(s.sent)) {
        const got = finals[Number(to)]?.received[String(from)] ?? 0
        total += count
        delivered += Math.min(got, count)
        lost += Math.max(0, count - got)
      }
    })
    const warm = plan.seconds * WARM_UP_SHARE
    const slopeAfterWarmUp = (s: Array<[number, number]>): number => {
      const after = s.filter(([t]) => t >= warm)
      return slope(after.map(([t]) => t / 3600), after.map(([, mb]) => mb))
    }
    const slopes = samples.map(slopeAfterWarmUp)
    // the peers' own post-GC heap readings, on the runner's time axis, up to the end of sending
    const end = (performance.now() - t0) / 1000
    const heapSamples = helpers.map(h => parseReports(h.output)
      .filter(r => r.type === 'heap')
      .map(r => [(Number(r.atMs) - t0Wall) / 1000, Number(r.mb)] as [number, number])
      .filter(([t]) => t >= 0 && t <= end))
    const heapSlopes = heapSamples.map(slopeAfterWarmUp)
    const partSamples: Record<string, Array<Array<[number, number]>>> = {}
    const partSlopes: Record<string, number[]> = {}
    for (const name of PARTS) {
      partSamples[name] = helpers.map(h => parseReports(h.output)
        .filter(r => r.type === 'heap')
        .map(r => [(Number(r.atMs) - t0Wall) / 1000, part(r.parts as Record<string, unknown> | undefined, name)] as [number, number])
        .filter(([t, mb]) => t >= 0 && t <= end && Number.isFinite(mb)))
      partSlopes[name] = partSamples[name].map(slopeAfterWarmUp)
    }
    return {
      peers: plan.peers,
      seconds: plan.seconds,
      messagesPerPeer,
      sent: total,
      delivered,
      lost,
      duplicated: finals.reduce((a, f) => a + f.duplicates, 0),
      inboxDuplicated: finals.reduce((a, f) => a + f.inboxDuplicates, 0),
      rejectedThenRetried: sent.reduce((a, s) => a + s.rejected, 0),
      failed: sent.reduce((a, s) => a + s.failed + s.pending, 0),
      churned: sent.reduce((a, s) => a + s.churned, 0),
      slopes,
      samples,
      heapSlopes,
      heapSamples,
      partSlopes,
      partSamples
    }
  } finally {
    if (sampler !== undefined) clearInterval(sampler)
    await Promise.all(helpers.map(async h => { await h.stop() }))
  }
}

export const soak: Benchmark = {
  name: 'soak',
  title: 'Soak: 10 peers messaging each other with connection churn',
  optIn: true,
  async run (ctx: BenchContext): Promise<BenchOutput> {
    const base = PLANS[ctx.size]
    const plan = ctx.minutes != null && ctx.size !== 'smoke' ? { ...base, seconds: Math.round(ctx.minutes * 60), sampleMs: ctx.minutes < 10 ? 2000 : 10_000, settleMs: ctx.minutes < 10 ? 5000 : 60_000 } : base
    ctx.log(`soak: ${plan.peers} peers for ${plan.seconds} s, a connection closed every ~${plan.churnMs / 1000} s per peer`)
    const o = await runSoak(ctx, plan)
    const slopes = o.slopes.filter(Number.isFinite)
    const settledSlopes = (o.partSlopes.rss ?? []).filter(Number.isFinite)
    const heapSlopes = o.heapSlopes.filter(Number.isFinite)
    const range = (s: Array<[number, number]>): string => s.length === 0 ? '-' : `${(s[0]?.[1] ?? 0).toFixed(1)}→${(s[s.length - 1]?.[1] ?? 0).toFixed(1)}`
    const figures: Figure[] = [
      {
        key: 'soak.rss-slope',
        label: `RSS growth per node after a ${Math.round(WARM_UP_SHARE * 100)}% warm-up (${o.peers} nodes, ${(o.seconds / 60).toFixed(o.seconds < 600 ? 1 : 0)} min)`,
        unit: 'MB/hour',
        value: summarizeOrNull(slopes),
        ...(slopes.length === 0 ? { note: 'too few RSS samples after the warm-up' } : {})
      },
      {
        key: 'soak.settled-rss-slope',
        label: `settled RSS growth per node (RSS read right after a memory-reducing full GC, once every ${plan.settleMs / 1000} s) after a ${Math.round(WARM_UP_SHARE * 100)}% warm-up`,
        unit: 'MB/hour',
        value: summarizeOrNull(settledSlopes),
        ...(settledSlopes.length === 0 ? { note: 'too few settled samples after the warm-up' } : {}),
        target: {
          id: 'P8',
          goal: '≤ 1 MB/hour in a 1-hour soak',
          met: o.seconds < 3600 || settledSlopes.length === 0 ? null : Math.max(...settledSlopes) <= 1,
          detail: o.seconds < 3600
            ? `a ${(o.seconds / 60).toFixed(1)}-minute run: the slope of a short run is mostly warm-up noise`
            : `the worst node's least-squares slope of its settled RSS (the memory it keeps); the mean of the ${settledSlopes.length} nodes ${(settledSlopes.reduce((a, b) => a + b, 0) / settledSlopes.length).toFixed(2)} MB/hour`
        }
      },
      {
        key: 'soak.heap-slope',
        label: `live heap growth per node after a ${Math.round(WARM_UP_SHARE * 100)}% warm-up (heapUsed after a full GC)`,
        unit: 'MB/hour',
        value: summarizeOrNull(heapSlopes),
        ...(heapSlopes.length === 0 ? { note: 'too few heap samples after the warm-up' } : {})
      },
      {
        key: 'soak.outside-heap-slope',
        label: `growth per node of the resident anonymous memory outside V8's heap (RssAnon − V8's resident heap, after a full GC: native allocations, buffers, LevelDB, malloc) after a ${Math.round(WARM_UP_SHARE * 100)}% warm-up`,
        unit: 'MB/hour',
        value: summarizeOrNull((o.partSlopes.outsideHeap ?? []).filter(Number.isFinite)),
        ...((o.partSlopes.outsideHeap ?? []).filter(Number.isFinite).length === 0 ? { note: 'too few samples after the warm-up' } : {})
      },
      {
        key: 'soak.lost',
        label: `messages lost of ${o.sent} sent (${o.peers} peers × ${o.messagesPerPeer})`,
        unit: 'messages',
        value: summarizeOrNull([o.lost]),
        target: { id: 'R6', goal: 'none lost, none duplicated', met: o.messagesPerPeer >= MIN_MESSAGES && o.peers >= 10 ? o.lost === 0 && o.duplicated === 0 && o.inboxDuplicated === 0 : null, detail: `${o.delivered} delivered; ${o.rejectedThenRetried} sends failed at first and were retried from the outbox; ${o.churned} connections closed` }
      },
      {
        key: 'soak.duplicated',
        label: 'messages delivered twice (to the listener, or stored twice in the inbox)',
        unit: 'messages',
        value: summarizeOrNull([o.duplicated + o.inboxDuplicated])
      },
      {
        key: 'soak.churn',
        label: 'connections closed during the run (then redialled by the next send)',
        unit: 'connections',
        value: summarizeOrNull([o.churned])
      }
    ]
    const notes = [
      `${o.peers} peers × ${o.messagesPerPeer} messages over ${o.seconds} s: ${o.sent} sent, ${o.delivered} delivered, ${o.lost} lost, ${o.duplicated} duplicated to the listener, ${o.inboxDuplicated} stored twice, ${o.failed} still pending or failed in outboxes`,
      `RSS slope per node (MB/hour; read from /proc every ${plan.sampleMs / 1000} s, swings with V8's heap sizing): ${o.slopes.map(s => s.toFixed(1)).join(', ')}`,
      `live heap (after a full GC) slope per node (MB/hour): ${o.heapSlopes.map(s => s.toFixed(2)).join(', ')}; first→last sample (MB): ${o.heapSamples.map(range).join(', ')}`,
      `RSS first→last sample (MB): ${o.samples.map(range).join(', ')}`,
      ...PARTS.map(name => {
        const sl = (o.partSlopes[name] ?? []).filter(Number.isFinite)
        return `${name} (read after a memory-reducing full GC) slope per node (MB/hour): ${sl.map(s => s.toFixed(1)).join(', ')} (median ${(summarizeOrNull(sl)?.median ?? Number.NaN).toFixed(1)}); first→last (MB): ${(o.partSamples[name] ?? []).map(range).join(', ')}`
      })
    ]
    // the fleet's settled RSS over the run: the mean of the nodes' readings in each twelfth
    // (5 minutes of an hour), which shows a working set filling up (the steps shrink) from a
    // leak (they do not)
    const settled = o.partSamples.rss ?? []
    const BINS = 12
    const bins = Array.from({ length: BINS }, (_, q) => {
      const inBin = settled.flatMap(s => s.filter(([t]) => t >= q * o.seconds / BINS && t < (q + 1) * o.seconds / BINS).map(([, mb]) => mb))
      return inBin.length === 0 ? '-' : (inBin.reduce((a, b) => a + b, 0) / inBin.length).toFixed(1)
    })
    notes.push(`settled RSS, mean of the nodes' readings in each twelfth of the run (${(o.seconds / 60 / BINS).toFixed(o.seconds < 7200 ? 1 : 0)} min each, MB): ${bins.join(' → ')}`)
    return { status: 'ok', figures, notes, params: { ...plan, messagesPerPeer: o.messagesPerPeer, ratePerPeer: RATE_PER_PEER, warmUpShare: WARM_UP_SHARE, slopes: o.slopes, samples: o.samples, heapSlopes: o.heapSlopes, heapSamples: o.heapSamples, partSlopes: o.partSlopes, partSamples: o.partSamples } }
  }
}
