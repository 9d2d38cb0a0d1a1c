/**
 * Order statistics for repeated measurements: the median and its spread (p10/p90, IQR,
 * min/max). Percentiles interpolate linearly between closest ranks (R's type 7, numpy's
 * default), so a handful of samples still gives a defined p10 and p90.
 */

export interface Summary {
  /** number of samples */
  n: number
  median: number
  p10: number
  p25: number
  p75: number
  p90: number
  min: number
  max: number
  mean: number
}

/** The q-quantile (0 ≤ q ≤ 1) of samples already sorted ascending. */
export function quantile (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q))
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  const a = sorted[lo] ?? Number.NaN
  const b = sorted[hi] ?? Number.NaN
  return a + (b - a) * (pos - lo)
}

/** Median and spread of a sample; throws on an empty or non-finite sample. */
export function summarize (samples: readonly number[]): Summary {
  const finite = samples.filter(Number.isFinite)
  if (finite.length === 0 || finite.length !== samples.length) {
    throw new RangeError(`cannot summarize ${samples.length} samples (${samples.length - finite.length} not finite)`)
  }
  const s = [...finite].sort((x, y) => x - y)
  return {
    n: s.length,
    median: quantile(s, 0.5),
    p10: quantile(s, 0.1),
    p25: quantile(s, 0.25),
    p75: quantile(s, 0.75),
    p90: quantile(s, 0.9),
    min: s[0] ?? Number.NaN,
    max: s[s.length - 1] ?? Number.NaN,
    mean: s.reduce((sum, x) => sum + x, 0) / s.length
  }
}

/** summarize(), or null for an empty sample (a figure that could not be measured). */
export function summarizeOrNull (samples: readonly number[]): Summary | null {
  return samples.length === 0 ? null : summarize(samples)
}

/** Element-wise ratios a[i] / b[i] of paired repetitions (same run, same order). */
export function pairedRatios (a: readonly number[], b: readonly number[]): number[] {
  const n = Math.min(a.length, b.length)
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const x = a[i]
    const y = b[i]
    if (x !== undefined && y !== undefined && y !== 0) out.push(x / y)
  }
  return out
}

/** Element-wise differences a[i] - b[i] of paired repetitions. */
export function pairedDifferences (a: readonly number[], b: readonly number[]): number[] {
  const n = Math.min(a.length, b.length)
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const x = a[i]
    const y = b[i]
    if (x !== undefined && y !== undefined) out.push(x - y)
  }
  return out
}
