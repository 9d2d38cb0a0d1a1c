/**
 * Benchmark 5, node cost: idle RSS and start → listening of a burrow node, each paired with
 * a stock js-libp2p node with the same transports in the same trial; plus the daemon's cold
 * start (process spawn → "ready") vs a stock node's process spawn → listening.
 * See bench/README.md for the method.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pairedRatios, summarizeOrNull } from './stats.ts'
import { CLI, Helper, peerScript, sleep, startHelper } from './proc.ts'
import type { BenchContext, BenchOutput, Benchmark, Figure, Size } from './report.ts'

interface Plan { trials: number, idleMs: number }
const PLANS: Record<Size, Plan> = {
  smoke: { trials: 1, idleMs: 300 },
  quick: { trials: 3, idleMs: 2000 },
  full: { trials: 8, idleMs: 5000 }
}

/** Resident set size of a process in MB (10^6 bytes), from /proc. */
export function rssMb (pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m)
  if (m?.[1] === undefined) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(m[1]) * 1024 / 1e6
}

interface Ready { importMs: number, startMs: number }

/** Spawns a process and times spawn → a line matching `ready` on its output. */
async function coldStart (argv: string[], ready: RegExp, name: string): Promise<{ helper: Helper, ms: number }> {
  const t0 = performance.now()
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  const helper = new Helper(name, child)
  let ms = 0
  await new Promise<void>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => { reject(new Error(`${name} not ready within 30 s: ${helper.tail()}`)) }, 30_000)
    const on = (d: Buffer): void => {
      out += d.toString()
      if (ready.test(out)) {
        ms = performance.now() - t0
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout.on('data', on)
    child.once('close', () => { clearTimeout(timer); reject(new Error(`${name} exited: ${helper.tail()}`)) })
  })
  return { helper, ms }
}

export const nodeCost: Benchmark = {
  name: 'node-cost',
  title: 'Node cost: idle RSS and start time vs stock js-libp2p',
  async run (ctx: BenchContext): Promise<BenchOutput> {
    const plan = PLANS[ctx.size]
    const s = {
      burrowStart: [] as number[], stockStart: [] as number[],
      burrowRss: [] as number[], stockRss: [] as number[],
      daemonCold: [] as number[], stockCold: [] as number[], daemonRss: [] as number[]
    }
    for (let t = 0; t < plan.trials; t++) {
      ctx.log(`node-cost: trial ${t + 1}/${plan.trials}`)
      const running: Helper[] = []
      try {
        // library start → listening, each node in a fresh process; alternate who goes first
        const order = t % 2 === 0 ? ['burrow', 'stock'] : ['stock', 'burrow']
        const lib: Record<string, { helper: Helper, ready: Ready }> = {}
        for (const kind of order) {
          const helper = await startHelper('node-cost-peer.js', ['--kind', kind, '--home', join(ctx.tmpDir, `node-cost-${t}-lib`)])
          running.push(helper)
          lib[kind] = { helper, ready: await helper.report<Ready>('ready', 30_000) }
        }
        // cold start: the real daemon binary vs a stock node process, spawn → listening
        const daemon = await coldStart([CLI, '--home', join(ctx.tmpDir, `node-cost-${t}-daemon`), 'daemon', '--network', 'bench', '--listen', '/ip4/127.0.0.1/tcp/0', '--port-mapping', 'off'], /^ready$/m, 'daemon')
        running.push(daemon.helper)
        const stockCold = await coldStart([peerScript('node-cost-peer.js'), '--kind', 'stock'], /"type":"ready"/, 'stock-cold')
        running.push(stockCold.helper)
        await sleep(plan.idleMs)
        const b = lib.burrow
        const st = lib.stock
        if (b === undefined || st === undefined) throw new Error('a node did not start')
        s.burrowStart.push(b.ready.startMs)
        s.stockStart.push(st.ready.startMs)
        s.burrowRss.push(rssMb(b.helper.pid))
        s.stockRss.push(rssMb(st.helper.pid))
        s.daemonCold.push(daemon.ms)
        s.stockCold.push(stockCold.ms)
        s.daemonRss.push(rssMb(daemon.helper.pid))
      } finally {
        await Promise.all(running.map(async h => { await h.stop() }))
      }
    }
    const rss = summarizeOrNull(s.burrowRss)
    const daemonRss = summarizeOrNull(s.daemonRss)
    const start = summarizeOrNull(s.burrowStart)
    const figures: Figure[] = [
      {
        key: 'node-cost.idle-rss',
        label: `idle RSS after ${plan.idleMs / 1000} s (library)`,
        unit: 'MB',
        value: rss,
        baseline: { label: 'stock js-libp2p', value: summarizeOrNull(s.stockRss) },
        compare: { kind: 'ratio', unit: '', value: summarizeOrNull(pairedRatios(s.burrowRss, s.stockRss)) },
        headline: { better: 'lower' }
      },
      {
        key: 'node-cost.daemon-rss',
        label: `idle RSS after ${plan.idleMs / 1000} s (daemon)`,
        unit: 'MB',
        value: daemonRss,
        baseline: { label: 'stock js-libp2p', value: summarizeOrNull(s.stockRss) },
        compare: { kind: 'ratio', unit: '', value: summarizeOrNull(pairedRatios(s.daemonRss, s.stockRss)) },
        target: { id: 'P7', goal: '≤ 80 MB', met: daemonRss == null ? null : daemonRss.median <= 80, detail: 'RSS of the `burrow daemon` process, idle, no peers' }
      },
      {
        key: 'node-cost.start-listening',
        label: 'start → listening (library)',
        unit: 'ms',
        value: start,
        baseline: { label: 'stock js-libp2p', value: summarizeOrNull(s.stockStart) },
        compare: { kind: 'ratio', unit: '', value: summarizeOrNull(pairedRatios(s.burrowStart, s.stockStart)) },
        target: { id: 'P7', goal: '≤ 300 ms', met: start == null ? null : start.median <= 300, detail: 'createNode() + start() until listening, modules already loaded' },
        headline: { better: 'lower' }
      },
      {
        key: 'node-cost.cold-start',
        label: 'daemon cold start: spawn → ready',
        unit: 'ms',
        value: summarizeOrNull(s.daemonCold),
        baseline: { label: 'stock js-libp2p process', value: summarizeOrNull(s.stockCold) },
        compare: { kind: 'ratio', unit: '', value: summarizeOrNull(pairedRatios(s.daemonCold, s.stockCold)) },
        headline: { better: 'lower' }
      },
      {
        key: 'node-cost.first-reservation',
        label: 'start → first reservation (private node)',
        unit: 'ms',
        value: null,
        target: { id: 'P7', goal: '≤ 6 RTT + 500 ms', met: null, detail: 'not measured' },
        note: 'not measured yet: needs a private node in the lab, timed to its first reservation'
      }
    ]
    return { status: 'ok', figures, notes: [], params: { ...plan } }
  }
}
