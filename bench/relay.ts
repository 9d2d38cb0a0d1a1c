/**
 * Benchmark 3, relay capacity: one relay process on 127.0.0.1; reservations and then
 * circuits (each carrying a 1 KiB echo) added in steps by ONE load-client process
 * (bench/peers/relay-load.ts: an identity and a hand-built Noise + Yamux connection per
 * reservation or circuit, each from its own loopback address, raw circuit v2). RSS and CPU
 * time of the relay process are read from /proc after each step, refusals counted. The
 * stock js-libp2p relay (its limits raised to the plan) and burrow's relay (`burrow daemon
 * --relay-server on`) are measured in the same run, one after the other.
 */
import { execFile, spawn } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { summarizeOrNull } from './stats.ts'
import { CLI, Helper, peerScript, sleep, startHelper } from './proc.ts'
import { rssMb } from './node-cost.ts'
import type { BenchContext, BenchOutput, Benchmark, Figure, Size } from './report.ts'

const execFileP = promisify(execFile)

interface Plan { reservationSteps: number[], circuitSteps: number[], bytes: number }
const PLANS: Record<Size, Plan> = {
  smoke: { reservationSteps: [4], circuitSteps: [2], bytes: 256 },
  quick: { reservationSteps: [250], circuitSteps: [100], bytes: 1024 },
  full: { reservationSteps: [1000, 2500, 5000], circuitSteps: [250, 500, 1000], bytes: 1024 }
}

/** user + system CPU seconds of a process, from /proc/PID/stat */
function cpuSeconds (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (USER_HZ = 100)
}

/** Where the relay's memory is (bench/peers/mem-probe.js), in MB; heapLimitMb is V8's limit for the process. */
interface MemBreakdown { heapTotalMb: number, heapUsedMb: number, externalMb: number, arrayBuffersMb: number, heapLimitMb: number }
interface Step { total: number, ok: number, failed: number, rssMb: number, cpuPercent: number, seconds: number, errors: Record<string, number>, clientRssMb: number, mem?: MemBreakdown }
interface RelayRun { reservations: Step[], circuits: Step[], baseRssMb: number, error?: string }

/** Is burrow's relay server in this build? */
async function burrowRelayAvailable (): Promise<string | undefined> {
  try {
    const { CONFIG_FIELDS } = await import('../dist/index.js')
    const paths = CONFIG_FIELDS.map(f => f.path)
    if (!paths.includes('relay.maxReservations')) return 'this build has no relay server settings (relay.maxReservations)'
    return undefined
  } catch (err) {
    return `cannot load burrow: ${(err as Error).message}`
  }
}

/** Asks the relay's preloaded probe (bench/peers/mem-probe.js) where its memory is; undefined when it does not answer. */
async function memBreakdown (pid: number, file: string): Promise<MemBreakdown | undefined> {
  rmSync(file, { force: true })
  try { process.kill(pid, 'SIGUSR2') } catch { return undefined }
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    try {
      const m = JSON.parse(readFileSync(file, 'utf8')) as { heapTotal: number, heapUsed: number, external: number, arrayBuffers: number, heapLimit: number }
      return { heapTotalMb: m.heapTotal / 1e6, heapUsedMb: m.heapUsed / 1e6, externalMb: m.external / 1e6, arrayBuffersMb: m.arrayBuffers / 1e6, heapLimitMb: m.heapLimit / 1e6 }
    } catch {
      await sleep(50)
    }
  }
  return undefined
}

const PROBE_ARGS = (): string[] => ['--import', peerScript('mem-probe.js')]

async function startRelay (ctx: BenchContext, kind: 'stock' | 'burrow', n: number, m: number, probeFile: string): Promise<{ helper: Helper, multiaddr: string }> {
  if (kind === 'stock') {
    const helper = await startHelper('relay-server', ['--reservations', String(n), '--circuits', String(m)], { env: { BURROW_MEM_PROBE: probeFile }, nodeArgs: PROBE_ARGS() })
    const ready = await helper.report<{ multiaddr: string }>('ready', 30_000)
    return { helper, multiaddr: ready.multiaddr }
  }
  const home = join(ctx.tmpDir, 'relay-burrow')
  const child = spawn(process.execPath, [...PROBE_ARGS(), CLI, '--home', home, 'daemon', '--network', 'bench', '--listen', '/ip4/127.0.0.1/tcp/0', '--port-mapping', 'off', '--relay-server', 'on'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      BURROW_MEM_PROBE: probeFile,
      // global caps raised to the plan; the per-IP caps stay at their defaults: every
      // client comes from its own loopback address, as on the internet
      BURROW_RELAY_MAX_RESERVATIONS: String(n),
      // hop streams open at once, RESERVE exchanges in flight included (the load client runs
      // 8 at once): twice the circuits, as the stock relay's maxInboundHopStreams here
      BURROW_RELAY_MAX_CIRCUITS: String(m * 2),
      BURROW_MAX_CONNECTIONS: String(n + 2 * m + 64)
    }
  })
  const helper = new Helper('burrow-relay', child)
  const deadline = Date.now() + 30_000
  while (!/^ready$/m.test(helper.output)) {
    if (!helper.running || Date.now() > deadline) throw new Error(`burrow relay did not start: ${helper.tail()}`)
    await sleep(100)
  }
  const { stdout } = await execFileP(process.execPath, [CLI, '--home', home, 'status', '--json'])
  const status = JSON.parse(stdout) as { peerId: string, addresses: { listen: string[] } }
  return { helper, multiaddr: `${status.addresses.listen[0] ?? ''}/p2p/${status.peerId}` }
}

/** The load client (bench/peers/relay-load.ts): one process, commands on stdin. */
async function startLoad (relayAddr: string, pool: number, bytes: number): Promise<Helper> {
  const child = spawn(process.execPath, [peerScript('relay-load'), '--relay', relayAddr, '--pool', String(pool), '--bytes', String(bytes)], { stdio: ['pipe', 'pipe', 'pipe'] })
  const helper = new Helper('relay-load', child)
  await helper.report('ready', 30_000)
  return helper
}

interface LoadReport { total: number, ok: number, failed: number, errors: Record<string, number>, rssMb: number }

async function measureRelay (ctx: BenchContext, kind: 'stock' | 'burrow', plan: Plan, pool: number): Promise<RelayRun> {
  const maxN = plan.reservationSteps[plan.reservationSteps.length - 1] ?? 0
  const maxM = plan.circuitSteps[plan.circuitSteps.length - 1] ?? 0
  const probeFile = join(ctx.tmpDir, `relay-${kind}-mem.json`)
  const relay = await startRelay(ctx, kind, maxN, maxM, probeFile)
  let load: Helper | undefined
  const run: RelayRun = { reservations: [], circuits: [], baseRssMb: 0 }
  try {
    await sleep(500)
    run.baseRssMb = rssMb(relay.helper.pid)
    load = await startLoad(relay.multiaddr, pool, plan.bytes)
    const step = async (cmd: 'reserve' | 'circuits', target: number, index: number): Promise<Step> => {
      const t0 = performance.now()
      const cpu0 = cpuSeconds(relay.helper.pid)
      load?.child.stdin?.write(`${cmd} ${target}\n`)
      const r = await (load as Helper).report<LoadReport>(cmd === 'reserve' ? 'reserved' : 'circuits', STEP_TIMEOUT_MS, index)
      const seconds = (performance.now() - t0) / 1000
      const cpu = (cpuSeconds(relay.helper.pid) - cpu0) / seconds * 100
      await sleep(1000)
      const s: Step = { total: r.total, ok: r.ok, failed: r.failed, rssMb: rssMb(relay.helper.pid), cpuPercent: cpu, seconds, errors: r.errors, clientRssMb: r.rssMb }
      const mem = await memBreakdown(relay.helper.pid, probeFile)
      if (mem !== undefined) s.mem = mem
      const memText = mem === undefined ? 'no heap figures' : `V8 heap ${mem.heapUsedMb.toFixed(0)} used / ${mem.heapTotalMb.toFixed(0)} total (limit ${mem.heapLimitMb.toFixed(0)}), external ${mem.externalMb.toFixed(0)} (array buffers ${mem.arrayBuffersMb.toFixed(0)})`
      ctx.log(`relay ${kind}: ${s.total} ${cmd === 'reserve' ? 'reservations held' : 'circuits open'} (${s.failed} refused or failed), relay RSS ${s.rssMb.toFixed(0)} MB: ${memText} MB, CPU ${cpu.toFixed(0)}%, ${seconds.toFixed(1)} s; load client ${r.rssMb.toFixed(0)} MB`)
      return s
    }
    try {
      for (const [i, target] of plan.reservationSteps.entries()) {
        const s = await step('reserve', target, i)
        run.reservations.push(s)
        if (!clean(s)) break
      }
      for (const [i, target] of plan.circuitSteps.entries()) {
        const s = await step('circuits', target, i)
        run.circuits.push(s)
        if (!clean(s)) break
      }
    } catch (err) {
      // a step that never ends (a starved host, a stuck relay) ends this relay's run: the
      // steps measured so far stay, and the other relay is still measured
      run.error = (err as Error).message.split('\n')[0] ?? ''
      ctx.log(`relay ${kind}: stopped: ${run.error}`)
    }
  } finally {
    await load?.stop()
    await relay.helper.stop()
  }
  return run
}

/**
 * A step counts as held when at most 1 % of its requests were refused or failed: one reset
 * among thousands of handshakes on a busy 2-core host does not end the phase (the refusals
 * are reported at each level either way).
 */
const MAX_FAILED_SHARE = 0.01

/** One step (e.g. 2,500 → 5,000 reservations) may take this long: minutes on a 2-core host shared with other work. */
const STEP_TIMEOUT_MS = 1_200_000

function clean (s: Step): boolean {
  return s.failed <= MAX_FAILED_SHARE * (s.ok + s.failed)
}

function largestClean (steps: Step[]): number {
  let best = 0
  for (const s of steps) {
    if (!clean(s)) break
    best = s.total
  }
  return best
}

/** met when it held the target; missed when errors came below it; null when the plan stopped short of it */
function p5 (held: number | null, steps: Step[] | undefined, goal: number): boolean | null {
  if (held == null) return null
  if (held >= goal * (1 - MAX_FAILED_SHARE)) return true
  return steps?.some(s => !clean(s)) === true ? false : null
}

function perUnitRss (steps: Step[], base: number): number[] {
  // MB per reservation (or circuit) at each step, from the RSS growth since the phase began
  return steps.filter(s => s.total > 0).map(s => (s.rssMb - base) / s.total * 1000)
}

export const relay: Benchmark = {
  name: 'relay',
  title: 'Relay capacity: reservations and circuits in one relay process',
  async run (ctx: BenchContext): Promise<BenchOutput> {
    const plan = PLANS[ctx.size]
    const notes: string[] = []
    const runs: Partial<Record<'stock' | 'burrow', RelayRun>> = {}
    const unavailable = await burrowRelayAvailable()
    if (unavailable === undefined) {
      ctx.log('relay: burrow relay')
      try {
        runs.burrow = await measureRelay(ctx, 'burrow', plan, 12)
      } catch (err) {
        notes.push(`burrow relay: ${(err as Error).message.split('\n')[0] ?? ''}`)
      }
    } else {
      notes.push(`burrow relay not measured: ${unavailable}`)
    }
    // after burrow's: on a busy host its figures are in the log before the baseline's long run
    ctx.log('relay: stock js-libp2p relay')
    runs.stock = await measureRelay(ctx, 'stock', plan, 11)
    for (const [kind, r] of Object.entries(runs)) {
      if (r.error != null) notes.push(`${kind} relay: stopped early: ${r.error}`)
    }
    return relayOutput(plan, runs as RelayRuns, notes)
  }
}

type RelayRuns = { stock: RelayRun, burrow?: RelayRun }

/** The figures of a relay run (also re-derived from a saved run's params: `relayOutput(params, params.runs, [])`). */
export function relayOutput (plan: Plan, runs: RelayRuns, notes: string[]): BenchOutput {
  const figures: Figure[] = []
  const stock = runs.stock
  const burrow = runs.burrow
  const lastRes = (r?: RelayRun): Step | undefined => r?.reservations[r.reservations.length - 1]
  const circuitBase = (r?: RelayRun): number => lastRes(r)?.rssMb ?? r?.baseRssMb ?? 0
  const nb = burrow == null ? null : largestClean(burrow.reservations)
  const mb = burrow == null ? null : largestClean(burrow.circuits)
  const ns = largestClean(stock.reservations)
  const ms = largestClean(stock.circuits)
  const maxN = plan.reservationSteps[plan.reservationSteps.length - 1] ?? 0
  const maxM = plan.circuitSteps[plan.circuitSteps.length - 1] ?? 0
  figures.push({
    key: 'relay.reservations',
    label: `reservations held, ≤ 1 % refused per step (plan: up to ${maxN})`,
    unit: 'reservations',
    value: nb == null ? null : summarizeOrNull([nb]),
    ...(nb == null ? { note: notes.find(n => n.startsWith('burrow relay')) ?? 'not measured' } : {}),
    baseline: { label: 'stock js-libp2p relay', value: summarizeOrNull([ns]) },
    target: { id: 'P5', goal: '5,000 reservations', met: p5(nb, burrow?.reservations, 5000), detail: nb != null && nb >= maxN ? `held up to the plan's ${maxN}; not pushed further in this run size` : 'largest step with ≤ 1 % refused' },
    ...(nb != null && ns > 0 ? { headline: { better: 'higher' as const } } : {})
  })
  figures.push({
    key: 'relay.circuits',
    label: `concurrent circuits held, ≤ 1 % refused per step (plan: up to ${maxM})`,
    unit: 'circuits',
    value: mb == null ? null : summarizeOrNull([mb]),
    ...(mb == null ? { note: notes.find(n => n.startsWith('burrow relay')) ?? 'not measured' } : {}),
    baseline: { label: 'stock js-libp2p relay', value: summarizeOrNull([ms]) },
    target: { id: 'P5', goal: '1,000 concurrent circuits', met: p5(mb, burrow?.circuits, 1000), detail: mb != null && mb >= maxM ? `held up to the plan's ${maxM}; not pushed further in this run size` : 'largest step with ≤ 1 % refused' }
  })
  // RSS, CPU and refusals at each level, both relays
  const stepRows = (phase: 'reservations' | 'circuits', steps: number[]): void => {
    for (const [i, level] of steps.entries()) {
      const b = burrow?.[phase][i]
      const st = stock[phase][i]
      const what = phase === 'reservations' ? 'reservations' : 'circuits (each echoed 1 KiB)'
      const missing = { note: b == null ? (burrow == null ? 'burrow relay not measured' : 'an earlier step failed') : '' }
      figures.push({
        key: `relay.${phase}-${level}.rss`,
        label: `relay RSS at ${level.toLocaleString('en-US')} ${what}`,
        unit: 'MB',
        value: b == null ? null : summarizeOrNull([b.rssMb]),
        ...(b == null ? missing : {}),
        baseline: { label: 'stock js-libp2p relay', value: st == null ? null : summarizeOrNull([st.rssMb]) }
      })
      const memFigure = (part: 'heapTotalMb' | 'heapUsedMb' | 'externalMb', key: string, what: string): void => {
        const bv = b?.mem?.[part]
        const sv = st?.mem?.[part]
        figures.push({
          key: `relay.${phase}-${level}.${key}`,
          label: `relay ${what} at ${level.toLocaleString('en-US')} ${phase}`,
          unit: 'MB',
          value: bv == null ? null : summarizeOrNull([bv]),
          ...(bv == null ? { note: b == null ? missing.note : 'the relay did not answer the memory probe' } : {}),
          baseline: { label: 'stock js-libp2p relay', value: sv == null ? null : summarizeOrNull([sv]) }
        })
      }
      memFigure('heapTotalMb', 'heap-total', 'V8 heap (total, garbage included)')
      memFigure('heapUsedMb', 'heap-used', 'V8 heap used')
      memFigure('externalMb', 'external', 'external memory (buffers outside the V8 heap)')
      figures.push({
        key: `relay.${phase}-${level}.cpu`,
        label: `relay CPU while reaching ${level.toLocaleString('en-US')} ${phase} (% of one core)`,
        unit: '%',
        value: b == null ? null : summarizeOrNull([b.cpuPercent]),
        ...(b == null ? missing : {}),
        baseline: { label: 'stock js-libp2p relay', value: st == null ? null : summarizeOrNull([st.cpuPercent]) }
      })
      figures.push({
        key: `relay.${phase}-${level}.refused`,
        label: `${phase} refused or failed on the way to ${level.toLocaleString('en-US')}`,
        unit: phase,
        value: b == null ? null : summarizeOrNull([b.failed]),
        ...(b == null ? missing : {}),
        baseline: { label: 'stock js-libp2p relay', value: st == null ? null : summarizeOrNull([st.failed]) }
      })
    }
  }
  stepRows('reservations', plan.reservationSteps)
  stepRows('circuits', plan.circuitSteps)
  const kbRes = (r?: RelayRun): number[] => r == null ? [] : perUnitRss(r.reservations, r.baseRssMb)
  const kbCirc = (r?: RelayRun): number[] => r == null ? [] : perUnitRss(r.circuits, circuitBase(r))
  figures.push({
    key: 'relay.rss-per-reservation',
    label: 'relay RSS per reservation (at each step)',
    unit: 'kB',
    value: summarizeOrNull(kbRes(burrow)),
    ...(burrow == null ? { note: 'burrow relay not measured' } : {}),
    baseline: { label: 'stock js-libp2p relay', value: summarizeOrNull(kbRes(stock)) }
  })
  figures.push({
    key: 'relay.rss-per-circuit',
    label: 'relay RSS per circuit (at each step)',
    unit: 'kB',
    value: summarizeOrNull(kbCirc(burrow)),
    ...(burrow == null ? { note: 'burrow relay not measured' } : {}),
    baseline: { label: 'stock js-libp2p relay', value: summarizeOrNull(kbCirc(stock)) }
  })
  const peak = (r?: RelayRun): number[] => r == null ? [] : [Math.max(r.baseRssMb, ...r.reservations.map(s => s.rssMb), ...r.circuits.map(s => s.rssMb))]
  const fullPlan = maxN >= 5000 && maxM >= 1000
  const reachedGoal = p5(nb, burrow?.reservations, 5000) === true && p5(mb, burrow?.circuits, 1000) === true
  const peakB = summarizeOrNull(peak(burrow))
  figures.push({
    key: 'relay.peak-rss',
    label: 'relay peak RSS over the run (at its largest step, refusals or not)',
    unit: 'MB',
    value: peakB,
    ...(burrow == null ? { note: 'burrow relay not measured' } : {}),
    baseline: { label: 'stock js-libp2p relay', value: summarizeOrNull(peak(stock)) },
    ...(fullPlan && peakB != null ? { target: { id: 'P5', goal: '5,000 / 1,000 within 1 GiB', met: reachedGoal && peakB.median <= 1073.7, detail: reachedGoal ? 'measured: every reservation and circuit held at once' : `measured; more than 1 % refused before 5,000 / 1,000 (held ${nb ?? 0} / ${mb ?? 0})` } } : {})
  })
  // a smaller run's view of P5's memory half: base + 5,000 reservations + 1,000 circuits at the measured slopes
  const projection = (r?: RelayRun): number[] => {
    const res = summarizeOrNull(kbRes(r))
    const circ = summarizeOrNull(kbCirc(r))
    if (r == null || res == null || circ == null) return []
    return [r.baseRssMb + (5000 * res.median + 1000 * circ.median) / 1000]
  }
  const projected = summarizeOrNull(projection(burrow))
  figures.push({
    key: 'relay.projected-rss-p5',
    label: 'projected relay RSS at 5,000 reservations + 1,000 circuits (linear, from the per-unit RSS)',
    unit: 'MB',
    value: projected,
    ...(projected == null ? { note: 'burrow relay not measured' } : {}),
    baseline: { label: 'stock js-libp2p relay', value: summarizeOrNull(projection(stock)) },
    ...(fullPlan ? {} : { target: { id: 'P5', goal: 'within 1 GiB', met: projected == null ? null : projected.median <= 1073.7, detail: 'a linear projection from the measured per-reservation and per-circuit RSS, not a measurement' } })
  })
  for (const [kind, r] of Object.entries(runs)) {
    for (const s of [...r.reservations, ...r.circuits]) {
      if (s.failed > 0) notes.push(`${kind}: at ${s.total + s.failed}: ${Object.entries(s.errors).map(([e, c]) => `${c}× ${e}`).join('; ')}`)
    }
  }
  for (const [kind, r] of Object.entries(runs)) {
    const limit = [...r.reservations, ...r.circuits].find(s => s.mem != null)?.mem?.heapLimitMb
    if (limit != null) notes.push(`${kind} relay: V8 heap limit ${limit.toFixed(0)} MB${kind === 'burrow' ? ' (relay.maxHeapMb)' : ' (Node\'s default for this host)'}`)
  }
  notes.push('load client: one process, one identity and one TCP connection (Noise + Yamux, raw circuit v2) per reservation or circuit, each from its own 127.P.x.y address; relays\' per-IP caps at their defaults, global caps raised to the plan')
  return { status: burrow == null ? 'partial' : 'ok', figures, notes, params: { ...plan, runs } }
}
