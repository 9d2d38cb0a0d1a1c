/**
 * docs/bench.svg: the headline figures of a run as burrow ÷ baseline on a log axis, one row
 * each: a bar from 1 to the median ratio, a whisker over p10–p90 of the paired ratios, and
 * the target (where it is a ratio) as a tick. Hand-written SVG, no dependencies.
 */
import { num } from './report.ts'
import type { Figure, RunDocument } from './report.ts'

const W = 1000
const LABEL_W = 440
const VALUE_W = 220
const ROW_H = 30
const TOP = 64
const PLOT_X0 = LABEL_W
const PLOT_X1 = W - VALUE_W
const GOOD = '#2e7d32'
const BAD = '#c62828'
const NEUTRAL = '#546e7a'

function esc (s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')
}

interface Row {
  label: string
  ratio: number
  lo: number
  hi: number
  better: 'higher' | 'lower'
  target?: number
  text: string
}

function rowOf (benchName: string, f: Figure): Row | undefined {
  if (f.headline == null || f.value == null || f.baseline?.value == null) return undefined
  const base = f.baseline.value.median
  if (!(base > 0) || !(f.value.median > 0)) return undefined
  let ratio = f.value.median / base
  let lo = ratio
  let hi = ratio
  let text = `×${num(ratio)}`
  if (f.compare?.kind === 'ratio' && f.compare.value != null) {
    ratio = f.compare.value.median
    lo = f.compare.value.p10
    hi = f.compare.value.p90
    text = `×${num(ratio)}`
  } else if (f.compare?.kind === 'difference' && f.compare.value != null) {
    const d = f.compare.value.median
    text = `${d >= 0 ? '+' : ''}${num(d)} ${f.compare.unit} (×${num(ratio)})`
  }
  if (f.target != null) text += f.target.met === true ? ' ✓' : f.target.met === false ? ' ✗' : ''
  return { label: `${benchName}: ${f.label}`, ratio, lo, hi, better: f.headline.better, target: f.headline.targetRatio, text }
}

export function renderSvg (doc: RunDocument): string {
  const rows: Row[] = []
  for (const r of doc.results) {
    for (const f of r.figures) {
      const row = rowOf(r.name, f)
      if (row !== undefined) rows.push(row)
    }
  }
  const values = rows.flatMap(r => [r.ratio, r.lo, r.hi, r.target ?? 1, 1]).filter(v => v > 0)
  const minExp = Math.floor(Math.log10(Math.min(0.1, ...values)))
  const maxExp = Math.ceil(Math.log10(Math.max(10, ...values)))
  const x = (v: number): number => PLOT_X0 + (Math.log10(v) - minExp) / (maxExp - minExp) * (PLOT_X1 - PLOT_X0)
  const H = TOP + Math.max(1, rows.length) * ROW_H + 56
  const m = doc.machine
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`)
  out.push(`<text x="12" y="22" font-size="15" font-weight="bold">burrow vs its baselines (same run), burrow ÷ baseline, log scale</text>`)
  out.push(`<text x="12" y="40" fill="#555">${esc(`${doc.startedAt.slice(0, 10)} · ${doc.size} run · ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB · Node ${m.node} · bar: median, whisker: p10–p90, tick: target`)}</text>`)
  // grid: decades
  for (let e = minExp; e <= maxExp; e++) {
    const v = 10 ** e
    const gx = x(v)
    out.push(`<line x1="${gx.toFixed(1)}" y1="${TOP - 8}" x2="${gx.toFixed(1)}" y2="${TOP + rows.length * ROW_H}" stroke="${e === 0 ? '#222' : '#ddd'}" stroke-width="${e === 0 ? 1.2 : 1}"/>`)
    out.push(`<text x="${gx.toFixed(1)}" y="${TOP + rows.length * ROW_H + 16}" text-anchor="middle" fill="#555">${e >= 0 ? `×${v}` : `×${v.toFixed(-e)}`}</text>`)
  }
  rows.forEach((r, i) => {
    const y = TOP + i * ROW_H
    const cy = y + ROW_H / 2
    const good = r.target !== undefined
      ? (r.better === 'higher' ? r.ratio >= r.target : r.ratio <= r.target)
      : undefined
    const color = good === undefined ? NEUTRAL : good ? GOOD : BAD
    const x1 = x(1)
    const xr = x(r.ratio)
    out.push(`<text x="${LABEL_W - 10}" y="${cy + 4}" text-anchor="end">${esc(r.label)}</text>`)
    out.push(`<rect x="${Math.min(x1, xr).toFixed(1)}" y="${(y + 7).toFixed(1)}" width="${Math.max(1, Math.abs(xr - x1)).toFixed(1)}" height="${ROW_H - 14}" fill="${color}" fill-opacity="0.75"/>`)
    if (r.hi > r.lo) {
      out.push(`<line x1="${x(r.lo).toFixed(1)}" y1="${cy}" x2="${x(r.hi).toFixed(1)}" y2="${cy}" stroke="#111" stroke-width="1.4"/>`)
      for (const v of [r.lo, r.hi]) out.push(`<line x1="${x(v).toFixed(1)}" y1="${cy - 5}" x2="${x(v).toFixed(1)}" y2="${cy + 5}" stroke="#111" stroke-width="1.4"/>`)
    }
    if (r.target !== undefined) {
      const tx = x(r.target)
      out.push(`<path d="M${tx.toFixed(1)} ${y + 2} l-5 -6 h10 z" fill="#111"/><line x1="${tx.toFixed(1)}" y1="${y + 2}" x2="${tx.toFixed(1)}" y2="${y + ROW_H - 2}" stroke="#111" stroke-dasharray="3 2"/>`)
    }
    out.push(`<text x="${PLOT_X1 + 10}" y="${cy + 4}">${esc(r.text)} <tspan fill="#777">${r.better === 'higher' ? '(higher is better)' : '(lower is better)'}</tspan></text>`)
  })
  if (rows.length === 0) out.push(`<text x="${PLOT_X0}" y="${TOP + 18}" fill="#777">no headline figures in this run</text>`)
  out.push(`<text x="12" y="${H - 12}" fill="#777">${esc('green: target met, red: target missed, grey: no ratio target. Method: bench/README.md')}</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}
