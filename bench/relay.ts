/**
 * Benchmark 3, relay capacity: one relay process on 127.0.0.1; reservations held by many
 * light clients (bench/peers/relay-clients.ts, 100 per process, each from its own loopback
 * address), added in steps until a step sees errors or the plan ends; then circuits, each
 * carrying a small echo, added in steps the same way. RSS and CPU time of the relay process
 * are read from /proc after each step. The stock js-libp2p relay (its limits raised to N)
 * and burrow's relay (`burrow daemon --relay-server on`, when this build has it) are
 * measured in the same run, one after the other.
 */
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { summarizeOrNull } from './stats.ts'
import { CLI, Helper, sleep, startHelper } from './proc.ts'
import { rssMb } from './node-cost.ts'
import type { BenchContext, BenchOutput, Benchmark, Figure, Size } from './report.ts'

const execFileP = promisify(execFile)

interface Plan { reservationSteps: number[], circuitSteps: number[], perProcess: number, bytes: number }
const PLANS: Record<Size, Plan> = {
  smoke: { reservationSteps: [4], circuitSteps: [2], perProcess: 100, bytes: 256 },
  quick: { reservationSteps: [100], circuitSteps: [25], perProcess: 100, bytes: 1024 },
  full: { reservationSteps: [250, 500, 1000], circuitSteps: [100, 250], perProcess: 100, bytes: 1024 }
}

/** user + system CPU seconds of a process, from /proc/PID/stat */
function cpuSeconds (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (USER_HZ = 100)
}

interface Step { total: number, ok: number, failed: number, rssMb: number, cpuPercent: number, seconds: number, errors: Record<string, number> }
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

async function startRelay (ctx: BenchContext, kind: 'stock' | 'burrow', n: number, m: number): Promise<{ helper: Helper, multiaddr: string }> {
  if (kind === 'stock') {
    const helper = await startHelper('relay-server', ['--reservations', String(n), '--circuits', String(m)])
    const ready = await helper.report<{ multiaddr: string }>('ready', 30_000)
    return { helper, multiaddr: ready.multiaddr }
  }
  const home = join(ctx.tmpDir, 'relay-burrow')
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, [CLI, '--home', home, 'daemon', '--network', 'bench', '--listen', '/ip4/127.0.0.1/tcp/0', '--port-mapping', 'off', '--relay-server', 'on'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      BURROW_RELAY_MAX_RESERVATIONS: String(n),
      BURROW_RELAY_MAX_CIRCUITS: String(m),
      BURROW_RELAY_MAX_PER_IP: String(Math.max(8, n)),
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

async function measureRelay (ctx: BenchContext, kind: 'stock' | 'burrow', plan: Plan): Promise<RelayRun> {
  const maxN = plan.reservationSteps[plan.reservationSteps.length - 1] ?? 0
  const maxM = plan.circuitSteps[plan.circuitSteps.length - 1] ?? 0
  const relay = await startRelay(ctx, kind, maxN + maxM, maxM)
  const clients: Helper[] = []
  const run: RelayRun = { reservations: [], circuits: [], baseRssMb: 0 }
  let pool = 1
  try {
    await sleep(500)
    run.baseRssMb = rssMb(relay.helper.pid)
    const addrs: string[] = []
    let held = 0
    // reservations, in steps
    for (const target of plan.reservationSteps) {
      const t0 = performance.now()
      const cpu0 = cpuSeconds(relay.helper.pid)
      let ok = 0
      let failed = 0
      const errors: Record<string, number> = {}
      while (held + ok + failed < target) {
        const k = Math.min(plan.perProcess, target - held - ok - failed)
        const h = await startHelper('relay-clients', ['--relay', relay.multiaddr, '--count', String(k), '--pool', String(pool++)])
        clients.push(h)
        const r = await h.report<{ ok: number, failed: number, errors: Record<string, number>, addrs: string[] }>('reserved', 120_000)
        ok += r.ok
        failed += r.failed
        addrs.push(...r.addrs)
        for (const [e, c] of Object.entries(r.errors)) errors[e] = (errors[e] ?? 0) + c
      }
      held += ok
      const seconds = (performance.now() - t0) / 1000
      await sleep(500)
      run.reservations.push({ total: held, ok, failed, rssMb: rssMb(relay.helper.pid), cpuPercent: (cpuSeconds(relay.helper.pid) - cpu0) / seconds * 100, seconds, errors })
      ctx.log(`relay ${kind}: ${held} reservations held (${failed} failed), relay RSS ${rssMb(relay.helper.pid).toFixed(0)} MB`)
      if (failed > 0) break
    }
    // circuits, in steps: dialers without reservations, each to a distinct reserved client
    let open = 0
    const rssBeforeCircuits = rssMb(relay.helper.pid)
    for (const target of plan.circuitSteps) {
      const want = Math.min(target - open, addrs.length - open)
      if (want <= 0) break
      const file = join(ctx.tmpDir, `relay-${kind}-targets-${target}.json`)
      writeFileSync(file, JSON.stringify(addrs.slice(open, open + want)))
      const t0 = performance.now()
      const cpu0 = cpuSeconds(relay.helper.pid)
      const h = await startHelper('relay-clients', ['--relay', relay.multiaddr, '--count', String(Math.min(want, plan.perProcess)), '--pool', String(pool++), '--dial', file, '--bytes', String(plan.bytes)])
      clients.push(h)
      const r = await h.report<{ ok: number, failed: number, errors: Record<string, number> }>('circuits', 180_000)
      open += r.ok
      const seconds = (performance.now() - t0) / 1000
      await sleep(500)
      run.circuits.push({ total: open, ok: r.ok, failed: r.failed, rssMb: rssMb(relay.helper.pid), cpuPercent: (cpuSeconds(relay.helper.pid) - cpu0) / seconds * 100, seconds, errors: r.errors })
      ctx.log(`relay ${kind}: ${open} circuits open (${r.failed} failed), relay RSS ${rssMb(relay.helper.pid).toFixed(0)} MB`)
      if (r.failed > 0) break
    }
    void rssBeforeCircuits
  } finally {
    await Promise.all(clients.map(async c => { await c.stop() }))
    await relay.helper.stop()
  }
  return run
}

function largestClean (steps: Step[]): number {
  let best = 0
  for (const s of steps) {
    if (s.failed > 0) break
    best = s.total
  }
  return best
}

/** met when it held the target; missed when errors came below it; null when the plan stopped short of it */
function p5 (held: number | null, steps: Step[] | undefined, goal: number): boolean | null {
  if (held == null) return null
  if (held >= goal) return true
  return steps?.some(s => s.failed > 0) === true ? false : null
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
    ctx.log('relay: stock js-libp2p relay')
    runs.stock = await measureRelay(ctx, 'stock', plan)
    const unavailable = await burrowRelayAvailable()
    if (unavailable === undefined) {
      ctx.log('relay: burrow relay')
      try {
        runs.burrow = await measureRelay(ctx, 'burrow', plan)
      } catch (err) {
        notes.push(`burrow relay: ${(err as Error).message.split('\n')[0] ?? ''}`)
      }
    } else {
      notes.push(`burrow relay not measured: ${unavailable}`)
    }
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
      label: `reservations held without errors (plan: up to ${maxN})`,
      unit: 'reservations',
      value: nb == null ? null : summarizeOrNull([nb]),
      ...(nb == null ? { note: notes.find(n => n.startsWith('burrow relay')) ?? 'not measured' } : {}),
      baseline: { label: 'stock js-libp2p relay', value: summarizeOrNull([ns]) },
      target: { id: 'P5', goal: '5,000 reservations', met: p5(nb, burrow?.reservations, 5000), detail: nb != null && nb >= maxN ? `no errors up to the plan's ${maxN}; not pushed further in this run size` : 'largest step without errors' },
      ...(nb != null && ns > 0 ? { headline: { better: 'higher' as const } } : {})
    })
    figures.push({
      key: 'relay.circuits',
      label: `concurrent circuits without errors (plan: up to ${maxM})`,
      unit: 'circuits',
      value: mb == null ? null : summarizeOrNull([mb]),
      ...(mb == null ? { note: notes.find(n => n.startsWith('burrow relay')) ?? 'not measured' } : {}),
      baseline: { label: 'stock js-libp2p relay', value: summarizeOrNull([ms]) },
      target: { id: 'P5', goal: '1,000 concurrent circuits', met: p5(mb, burrow?.circuits, 1000), detail: mb != null && mb >= maxM ? `no errors up to the plan's ${maxM}; not pushed further in this run size` : 'largest step without errors' }
    })
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
    const cpu = (r?: RelayRun): number[] => r == null ? [] : [...r.reservations, ...r.circuits].map(s => s.cpuPercent)
    figures.push({
      key: 'relay.cpu',
      label: 'relay CPU while clients reserve / dial (% of one core)',
      unit: '%',
      value: summarizeOrNull(cpu(burrow)),
      ...(burrow == null ? { note: 'burrow relay not measured' } : {}),
      baseline: { label: 'stock js-libp2p relay', value: summarizeOrNull(cpu(stock)) }
    })
    const peak = (r?: RelayRun): number[] => r == null ? [] : [Math.max(r.baseRssMb, ...r.reservations.map(s => s.rssMb), ...r.circuits.map(s => s.rssMb))]
    figures.push({
      key: 'relay.peak-rss',
      label: 'relay peak RSS',
      unit: 'MB',
      value: summarizeOrNull(peak(burrow)),
      ...(burrow == null ? { note: 'burrow relay not measured' } : {}),
      baseline: { label: 'stock js-libp2p relay', value: summarizeOrNull(peak(stock)) }
    })
    // P5's memory half: base + 5,000 reservations + 1,000 circuits at the measured slopes
    const projection = (r?: RelayRun): number[] => {
      const res = summarizeOrNull(kbRes(r))
      const circ = summarizeOrNull(kbCirc(r))
      if (r == null || res == null || circ == null) return []
      return [r.baseRssMb + (5000 * res.median + 1000 * circ.median) / 1000]
    }
    const projected = summarizeOrNull(projection(burrow))
    figures.push({
      key: 'relay.projected-rss-p5',
      label: 'projected relay RSS at 5,000 reservations + 1,000 circuits',
      unit: 'MB',
      value: projected,
      ...(projected == null ? { note: 'burrow relay not measured' } : {}),
      baseline: { label: 'stock js-libp2p relay', value: summarizeOrNull(projection(stock)) },
      target: { id: 'P5', goal: 'within 1 GiB', met: projected == null ? null : projected.median <= 1073.7, detail: 'a linear projection from the measured per-reservation and per-circuit RSS, not a measurement' }
    })
    for (const [kind, r] of Object.entries(runs)) {
      for (const s of [...r.reservations, ...r.circuits]) {
        if (s.failed > 0) notes.push(`${kind}: at ${s.total + s.failed}: ${Object.entries(s.errors).map(([e, c]) => `${c}× ${e}`).join('; ')}`)
      }
    }
    return { status: burrow == null ? 'partial' : 'ok', figures, notes, params: { ...plan, runs } }
  }
}
