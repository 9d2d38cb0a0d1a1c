/**
 * `npm run bench [-- --quick] [--only NAME[,NAME]] [--json]`: runs the benchmarks, prints a
 * table, writes the run as JSON to bench/results/<timestamp>.json and, when every benchmark
 * ran, the headline chart to docs/bench.svg. `--markdown` also prints the README table.
 * `--smoke` is the tiny size `npm test` uses; `--from FILE` re-renders a saved run;
 * `--trials N` sets the burrow trials per UDP-path cell (e.g. 20 for issue 15's counts). Lab
 * parts run only as root.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { BENCH_DIR, ROOT, stopAllHelpers } from './proc.ts'
import { machineInfo, markdownTable, textTable } from './report.ts'
import { renderSvg } from './svg.ts'
import { messages } from './messages.ts'
import { nodeCost } from './node-cost.ts'
import { dht } from './dht.ts'
import { relay } from './relay.ts'
import { timeToDirect } from './time-to-direct.ts'
import { udpPath } from './udp-path.ts'
import { memory } from './memory.ts'
import { messageRate } from './message-rate.ts'
import { soak } from './soak.ts'
import type { BenchContext, BenchResult, Benchmark, RunDocument, Size } from './report.ts'

export const BENCHMARKS: Benchmark[] = [messages, messageRate, timeToDirect, udpPath, relay, dht, nodeCost, memory, soak]

export interface RunOptions {
  size: Size
  only?: string[]
  log?: (msg: string) => void
  /** write bench/results/*.json (and docs/bench.svg when every benchmark ran); default true */
  write?: boolean
  /** pretend the lab is unavailable (the smoke test runs loopback parts only) */
  noLab?: boolean
  /** how long the soak runs (`--minutes N`) */
  minutes?: number
  /** burrow trials per UDP-path cell (`--trials N`) */
  trials?: number
}

function gitRevision (): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return null
  }
}

async function labStatus (noLab: boolean): Promise<{ available: boolean, reason?: string }> {
  if (noLab) return { available: false, reason: 'lab parts disabled for this run' }
  try {
    const { labUnavailableReason } = await import('../lab/dist/index.js')
    const reason = labUnavailableReason()
    return reason === undefined ? { available: true } : { available: false, reason }
  } catch (err) {
    return { available: false, reason: `the lab module does not load: ${(err as Error).message}` }
  }
}

/** Runs the selected benchmarks one after another; a failing benchmark is recorded, not fatal. */
export async function runBenchmarks (options: RunOptions): Promise<RunDocument> {
  const log = options.log ?? ((msg: string) => { process.stderr.write(`[bench] ${msg}\n`) })
  const unknown = (options.only ?? []).filter(n => !BENCHMARKS.some(b => b.name === n))
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')} (known: ${BENCHMARKS.map(b => b.name).join(', ')})`)
  // an opt-in benchmark (the soak) runs when named, and at the smoke size (npm test keeps it from rotting)
  const selected = options.only === undefined || options.only.length === 0
    ? BENCHMARKS.filter(b => b.optIn !== true || options.size === 'smoke')
    : BENCHMARKS.filter(b => options.only?.includes(b.name))
  const lab = await labStatus(options.noLab === true)
  const started = new Date()
  const tmpDir = mkdtempSync(join(tmpdir(), 'burrow-bench-'))
  const controller = new AbortController()
  const results: BenchResult[] = []
  try {
    for (const b of selected) {
      const ctx: BenchContext = { size: options.size, labAvailable: lab.available, labReason: lab.reason, tmpDir, log, signal: controller.signal, ...(options.minutes != null ? { minutes: options.minutes } : {}), ...(options.trials != null ? { trials: options.trials } : {}) }
      const t0 = Date.now()
      log(`${b.name}: ${b.title} (${options.size})`)
      try {
        const out = await b.run(ctx)
        results.push({ name: b.name, title: b.title, startedAt: new Date(t0).toISOString(), durationMs: Date.now() - t0, ...out })
      } catch (err) {
        log(`${b.name} failed: ${(err as Error).stack ?? String(err)}`)
        results.push({
          name: b.name, title: b.title, startedAt: new Date(t0).toISOString(), durationMs: Date.now() - t0,
          status: 'failed', figures: [], notes: [], params: {}, error: (err as Error).message.split('\n')[0] ?? String(err)
        })
      } finally {
        await stopAllHelpers()
      }
      log(`${b.name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    }
  } finally {
    controller.abort()
    rmSync(tmpDir, { recursive: true, force: true })
  }
  const doc: RunDocument = {
    startedAt: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
    size: options.size,
    machine: machineInfo(),
    git: gitRevision(),
    results
  }
  if (options.write !== false) {
    const dir = join(BENCH_DIR, 'results')
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `${started.toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}.json`)
    writeFileSync(file, JSON.stringify(doc, null, 2) + '\n')
    log(`wrote ${file}`)
    if (BENCHMARKS.every(b => b.optIn === true || selected.includes(b))) {
      const svg = join(ROOT, 'docs', 'bench.svg')
      mkdirSync(join(ROOT, 'docs'), { recursive: true })
      writeFileSync(svg, renderSvg(doc))
      log(`wrote ${svg}`)
    }
  }
  return doc
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      markdown: { type: 'boolean', default: false },
      'no-lab': { type: 'boolean', default: false },
      minutes: { type: 'string' },
      trials: { type: 'string' },
      from: { type: 'string' }
    }
  })
  if (values.from !== undefined) {
    // re-render a saved run: the table, the README table, docs/bench.svg
    const saved = JSON.parse(readFileSync(values.from, 'utf8')) as RunDocument
    console.log(textTable(saved.results))
    console.log('\n' + markdownTable(saved))
    writeFileSync(join(ROOT, 'docs', 'bench.svg'), renderSvg(saved))
    return
  }
  const size: Size = values.smoke === true ? 'smoke' : values.quick === true ? 'quick' : 'full'
  const only = (values.only ?? []).flatMap(s => s.split(',')).map(s => s.trim()).filter(s => s !== '')
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void stopAllHelpers().finally(() => process.exit(130))
    })
  }
  const minutes = values.minutes === undefined ? undefined : Number(values.minutes)
  if (minutes !== undefined && !(minutes > 0 && minutes <= 24 * 60)) throw new Error(`BAD_MINUTES: --minutes ${values.minutes ?? ''} is not a duration; give minutes between 0 and 1440`)
  const trials = values.trials === undefined ? undefined : Number(values.trials)
  if (trials !== undefined && !(Number.isInteger(trials) && trials >= 1 && trials <= 100)) throw new Error(`BAD_TRIALS: --trials ${values.trials ?? ''} is not a trial count; give a whole number from 1 to 100`)
  const doc = await runBenchmarks({ size, only, noLab: values['no-lab'] === true, ...(minutes !== undefined ? { minutes } : {}), ...(trials !== undefined ? { trials } : {}) })
  if (values.json === true) {
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n')
  } else {
    console.log(textTable(doc.results))
    for (const r of doc.results) for (const n of r.notes) console.log(`  ${r.name}: ${n}`)
    console.log(`\n${doc.size} run: ${(doc.durationMs / 1000).toFixed(0)} s`)
  }
  if (values.markdown === true) console.log('\n' + markdownTable(doc))
  process.exit(doc.results.some(r => r.status === 'failed') ? 1 : 0)
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  await main()
}
