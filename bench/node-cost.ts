/**
 * Benchmark 5, node cost: idle RSS and start → listening of a burrow node, each paired with
 * a stock js-libp2p node with the same transports in the same trial; plus the daemon's cold
 * start (process spawn → "ready") vs a stock node's process spawn → listening; and, in the
 * NAT lab, how long a private node takes from start to its first relay reservation.
 * See bench/README.md for the method.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pairedRatios, summarizeOrNull } from './stats.ts'
import { CLI, Helper, peerScript, sleep, startHelper } from './proc.ts'
import type { BenchContext, BenchOutput, Benchmark, Figure, Size } from './report.ts'
import { ControlClient } from '../dist/index.js'
import type { NodeStatus } from '../dist/index.js'
import type { Lab as LabType } from '../lab/dist/index.js'

interface Plan { trials: number, idleMs: number, reservationTrials: number }
const PLANS: Record<Size, Plan> = {
  smoke: { trials: 1, idleMs: 300, reservationTrials: 0 },
  quick: { trials: 3, idleMs: 2000, reservationTrials: 3 },
  full: { trials: 8, idleMs: 5000, reservationTrials: 6 }
}

/** One-way delay on the private node's WAN link in the first-reservation trials: path RTT 2·D. */
const RESERVATION_DELAY_MS = 10

/**
 * Start → first reservation: a relay on the lab internet, a private node A behind a cone NAT
 * whose WAN link adds RESERVATION_DELAY_MS each way. Each trial starts a fresh A (new identity)
 * and reads its status until it holds a reservation. Returns ms from the daemon's start()
 * (status.startedAt) to its first reservation's reservedAt, and from process spawn.
 */
async function firstReservations (ctx: BenchContext, trials: number): Promise<{ fromStart: number[], fromSpawn: number[], error?: string }> {
  const { Lab, startBurrow } = await import('../lab/dist/index.js')
  const out = { fromStart: [] as number[], fromSpawn: [] as number[] }
  let lab: LabType | undefined
  try {
    lab = await Lab.create({ name: 'bench-reservation' })
    const relayHost = await lab.addPublicHost('relay')
    const home = await lab.addHome('a', { nat: 'cone', delayMs: RESERVATION_DELAY_MS })
    const hostA = home.hosts[0]
    if (hostA === undefined) throw new Error('lab home without a host')
    const common = ['--port-mapping', 'off']
    const relay = await startBurrow(lab, relayHost, { args: ['--relay-server', 'on', ...common], logName: 'burrow-relay' })
    for (let t = 0; t < trials; t++) {
      ctx.log(`node-cost: first reservation, trial ${t + 1}/${trials}`)
      const spawnedAt = Date.now()
      const a = await startBurrow(lab, hostA, { home: join(ctx.tmpDir, `reservation-${t}`), bootstrap: [relay.multiaddr], args: common, logName: `burrow-a-${t}` })
      try {
        const control = new ControlClient(a.home)
        const deadline = Date.now() + 30_000
        for (;;) {
          const st = await control.get<NodeStatus>('/status')
          const first = Math.min(...st.reservations.map(r => r.reservedAt != null ? Date.parse(r.reservedAt) : Infinity))
          if (Number.isFinite(first)) {
            // both times are the daemon's own clock readings: start() called, reservation made
            out.fromStart.push(first - Date.parse(st.startedAt))
            out.fromSpawn.push(first - spawnedAt)
            break
          }
          if (Date.now() > deadline) throw new Error('no reservation within 30 s')
          await sleep(20)
        }
      } finally {
        await a.process.stop()
      }
    }
    return out
  } catch (err) {
    return { ...out, error: (err as Error).message.split('\n')[0] ?? String(err) }
  } finally {
    await lab?.teardown()
  }
}

/** Resident set size of a process in MB (10^6 bytes), from /proc. */
export function rssMb (pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m)
  if (m?.[1] === undefined) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(m[1]) * 1024 / 1e6
}

interface Ready { importMs: number, startMs: number }

/** Prints the process's peak RSS (kB) on stderr at exit: preloaded into a CLI run. */
const PEAK_RSS_PRELOAD = 'data:text/javascript,process.on("exit",()=>process.stderr.write("MAXRSS "+process.resourceUsage().maxRSS+"\\n"))'

/** One `burrow status --json` against a running daemon: wall ms from spawn to exit, and peak RSS in MB. */
async function cliStatus (home: string): Promise<{ ms: number, rssMb: number }> {
  const t0 = performance.now()
  const child = spawn(process.execPath, ['--import', PEAK_RSS_PRELOAD, CLI, '--home', home, 'status', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  child.stdout.resume()
  const code = await new Promise<number | null>(resolve => child.once('close', resolve))
  const ms = performance.now() - t0
  const kb = Number(/MAXRSS (\d+)/.exec(err)?.[1] ?? NaN)
  if (code !== 0 || !Number.isFinite(kb)) throw new Error(`burrow status exited ${String(code)}: ${err.trim()}`)
  return { ms, rssMb: kb * 1024 / 1e6 }
}

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
      daemonCold: [] as number[], stockCold: [] as number[], daemonRss: [] as number[],
      cliMs: [] as number[], cliRss: [] as number[]
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
        // a client command against the idle daemon (P8): the CLI loads only the socket client
        for (let i = 0; i < 3; i++) {
          const c = await cliStatus(join(ctx.tmpDir, `node-cost-${t}-daemon`))
          s.cliMs.push(c.ms)
          s.cliRss.push(c.rssMb)
        }
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
        key: 'node-cost.cli-status',
        label: 'CLI command: burrow status --json against an idle daemon, spawn → exit',
        unit: 'ms',
        value: summarizeOrNull(s.cliMs),
        target: { id: 'P8', goal: '≤ 150 ms', met: s.cliMs.length === 0 ? null : (summarizeOrNull(s.cliMs)?.median ?? Infinity) <= 150, detail: 'wall time of the whole process, Node start included' }
      },
      {
        key: 'node-cost.cli-status-rss',
        label: 'CLI command: burrow status --json, peak RSS',
        unit: 'MB',
        value: summarizeOrNull(s.cliRss),
        target: { id: 'P8', goal: '≤ 60 MB', met: s.cliRss.length === 0 ? null : (summarizeOrNull(s.cliRss)?.median ?? Infinity) <= 60, detail: 'peak RSS of the CLI process (getrusage)' }
      },
      {
        key: 'node-cost.cold-start',
        label: 'daemon cold start: spawn → ready',
        unit: 'ms',
        value: summarizeOrNull(s.daemonCold),
        baseline: { label: 'stock js-libp2p process', value: summarizeOrNull(s.stockCold) },
        compare: { kind: 'ratio', unit: '', value: summarizeOrNull(pairedRatios(s.daemonCold, s.stockCold)) },
        headline: { better: 'lower' }
      }
    ]
    const notes: string[] = []
    if (plan.reservationTrials > 0 && ctx.labAvailable) {
      const r = await firstReservations(ctx, plan.reservationTrials)
      const fromStart = summarizeOrNull(r.fromStart)
      const rtt = 2 * RESERVATION_DELAY_MS
      const goal = 6 * rtt + 500
      if (r.error !== undefined) notes.push(`first reservation: ${r.error}`)
      figures.push({
        key: 'node-cost.first-reservation',
        label: `start → first reservation, private node, ${rtt} ms RTT to the relay`,
        unit: 'ms',
        value: fromStart,
        target: { id: 'P7', goal: '≤ 6 RTT + 500 ms', met: fromStart == null ? null : fromStart.median <= goal, detail: `${r.fromStart.length}/${plan.reservationTrials} trials; goal ${goal} ms at ${rtt} ms RTT; from the daemon's start() (modules loaded) to the reservation` }
      }, {
        key: 'node-cost.first-reservation-cold',
        label: 'daemon spawn → first reservation, private node',
        unit: 'ms',
        value: summarizeOrNull(r.fromSpawn)
      })
    } else {
      figures.push({
        key: 'node-cost.first-reservation',
        label: 'start → first reservation (private node)',
        unit: 'ms',
        value: null,
        target: { id: 'P7', goal: '≤ 6 RTT + 500 ms', met: null, detail: 'not measured in this run' },
        note: ctx.labAvailable ? 'not measured at this size (lab trials only in quick and full runs)' : `not measured: ${ctx.labReason ?? 'the lab is unavailable'}`
      })
    }
    return { status: 'ok', figures, notes, params: { ...plan } }
  }
}
