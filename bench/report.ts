/**
 * What a benchmark returns, and how a run is printed: a plain-text table for the terminal,
 * a Markdown table for the README, and the JSON document written to bench/results/.
 */
import { cpus, totalmem, release, arch } from 'node:os'
import type { Summary } from './stats.ts'

/** How big a run is: `smoke` for `npm test` (seconds), `quick` (≤ 3 min in all), `full`. */
export type Size = 'smoke' | 'quick' | 'full'

export interface BenchContext {
  size: Size
  /** whether this process may build lab namespaces (root, tools installed) */
  labAvailable: boolean
  /** why not, when labAvailable is false */
  labReason?: string
  /** a scratch folder for homes and logs, removed after the run */
  tmpDir: string
  log: (msg: string) => void
  signal: AbortSignal
  /** `--minutes N`: how long a timed benchmark (the soak) runs, overriding its size's default */
  minutes?: number
  /** `--trials N`: burrow trials per lab cell of the UDP-path benchmark, overriding its size's default */
  trials?: number
}

/** A target from DESIGN.md's Targets table, and whether this run met it. */
export interface TargetCheck {
  id: string
  goal: string
  /** null: not measured in this run (see detail) */
  met: boolean | null
  detail: string
}

/** One measured figure, with its baseline from the same run. */
export interface Figure {
  /** stable id, e.g. `messages.loopback.rtt` */
  key: string
  label: string
  unit: string
  /** the median and spread over repetitions; null when it could not be measured (see note) */
  value: Summary | null
  baseline?: { label: string, value: Summary | null }
  /** per paired repetition: value / baseline (ratio) or value - baseline (difference) */
  compare?: { kind: 'ratio' | 'difference', unit: string, value: Summary | null }
  target?: TargetCheck
  note?: string
  /**
   * drawn on docs/bench.svg as burrow ÷ baseline: which way is better, and the target as a
   * ratio where the target is one
   */
  headline?: { better: 'higher' | 'lower', targetRatio?: number }
}

export type BenchStatus = 'ok' | 'partial' | 'skipped' | 'failed'

export interface BenchOutput {
  status: BenchStatus
  figures: Figure[]
  notes: string[]
  /** sizes and counts this run used */
  params: Record<string, unknown>
}

export interface BenchResult extends BenchOutput {
  name: string
  title: string
  startedAt: string
  durationMs: number
  error?: string
}

export interface Benchmark {
  /** the name `--only` takes */
  name: string
  title: string
  /** left out of a run unless named by `--only` (the soak: an hour); the smoke size runs it too */
  optIn?: boolean
  run: (ctx: BenchContext) => Promise<BenchOutput>
}

export interface MachineInfo {
  cpus: number
  cpuModel: string
  memoryGiB: number
  kernel: string
  arch: string
  node: string
}

export interface RunDocument {
  startedAt: string
  durationMs: number
  size: Size
  machine: MachineInfo
  git: string | null
  results: BenchResult[]
}

export function machineInfo (): MachineInfo {
  const list = cpus()
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    kernel: release(),
    arch: arch(),
    node: process.version
  }
}

/** A number with about three significant digits. */
export function num (x: number): string {
  if (!Number.isFinite(x)) return String(x)
  const a = Math.abs(x)
  if (a >= 1000) return Math.round(x).toString()
  if (a >= 100) return x.toFixed(0)
  if (a >= 10) return x.toFixed(1)
  if (a >= 1) return x.toFixed(2)
  if (a === 0) return '0'
  return x.toPrecision(2)
}

export function fmtSummary (s: Summary | null | undefined, unit = ''): string {
  if (s == null) return '—'
  const u = unit === '' ? '' : ` ${unit}`
  if (s.n === 1 || s.p10 === s.p90) return `${num(s.median)}${u}`
  return `${num(s.median)}${u} [${num(s.p10)}–${num(s.p90)}]`
}

function compareText (f: Figure): string {
  if (f.compare == null) return ''
  const v = f.compare.value
  if (v == null) return '—'
  if (f.compare.kind === 'ratio') return `×${fmtSummary(v)}`
  return `${v.median >= 0 ? '+' : ''}${fmtSummary(v, f.compare.unit)}`
}

function targetText (t: TargetCheck | undefined): string {
  if (t == null) return ''
  const mark = t.met === true ? 'met' : t.met === false ? 'MISSED' : 'n/a'
  return `${t.id} ${mark} (${t.goal})`
}

/** The terminal table: one row per figure, grouped by benchmark. */
export function textTable (results: BenchResult[]): string {
  const rows: string[][] = [['benchmark', 'figure', 'median [p10–p90]', 'baseline', 'vs baseline', 'target']]
  for (const r of results) {
    if (r.figures.length === 0) {
      rows.push([r.name, `(${r.status}) ${r.error ?? r.notes[0] ?? ''}`.slice(0, 110), '', '', '', ''])
      continue
    }
    for (const f of r.figures) {
      rows.push([
        r.name,
        f.label,
        f.value == null ? `— ${f.note ?? ''}`.slice(0, 70) : fmtSummary(f.value, f.unit),
        f.baseline == null ? '' : `${f.baseline.label}: ${fmtSummary(f.baseline.value, f.unit)}`,
        compareText(f),
        targetText(f.target)
      ])
    }
  }
  const widths = rows[0]?.map((_, i) => Math.min(72, Math.max(...rows.map(r => (r[i] ?? '').length)))) ?? []
  return rows.map((r, ri) => {
    const line = r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
    return ri === 0 ? `${line}\n${widths.map(w => '-'.repeat(w)).join('  ')}` : line
  }).join('\n')
}

function mdCell (s: string): string {
  return s.replaceAll('|', '\\|')
}

/** The README's table of the latest figures. */
export function markdownTable (doc: RunDocument): string {
  const m = doc.machine
  const lines = [
    `Latest run: ${doc.startedAt.slice(0, 10)}, \`npm run bench${doc.size === 'quick' ? ' -- --quick' : ''}\` ` +
      `in ${Math.round(doc.durationMs / 1000)} s on ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB RAM, ` +
      `Linux ${m.kernel}, Node ${m.node}. Median [p10–p90] over repetitions; each baseline from the same run.`,
    '',
    '| benchmark | figure | burrow | baseline | vs baseline | target |',
    '|---|---|---|---|---|---|'
  ]
  for (const r of doc.results) {
    if (r.figures.length === 0) {
      lines.push(`| ${r.name} | ${mdCell(`${r.status}: ${r.error ?? r.notes[0] ?? ''}`)} | | | | |`)
      continue
    }
    const shown = new Set<string>()
    for (const f of r.figures) {
      if (f.value == null && f.note !== undefined) {
        // one row per reason, not one per figure it left unmeasured
        const n = r.figures.filter(x => x.value == null && x.note === f.note).length
        if (shown.has(f.note)) continue
        shown.add(f.note)
        if (n > 1) {
          lines.push(`| ${r.name} | ${n} figures | ${mdCell(`— (${f.note.slice(0, 160)})`)} | | | |`)
          continue
        }
      }
      lines.push(`| ${[
        r.name,
        f.label,
        f.value == null ? `— (${f.note ?? 'not measured'})` : fmtSummary(f.value, f.unit),
        f.baseline == null ? '' : `${f.baseline.label}: ${fmtSummary(f.baseline.value, f.unit)}`,
        compareText(f),
        targetText(f.target)
      ].map(mdCell).join(' | ')} |`)
    }
  }
  return lines.join('\n')
}
