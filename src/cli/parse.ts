/**
 * Strict parsing of flag values: a value that is not exactly a number or a duration is a
 * usage error naming the flag (exit 2), never a silent default or null.
 */
import { InvalidArgumentError } from 'commander'
import { InvalidInputError } from '../errors/index.js'

/**
 * `10`, `10s`, `1500ms`, `0.5s` or `2m` → milliseconds. A bare number is in `unit`
 * (seconds for waits, milliseconds for the lab's delays).
 */
export function parseDuration (text: string, flag: string, unit: 's' | 'ms' = 's'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  if (m?.[1] === undefined) throw new InvalidInputError(`${flag} takes a duration like 10, 10s, 1500ms or 2m (got "${text}")`)
  const n = Number(m[1])
  const u = m[2] ?? unit
  return Math.round(u === 'ms' ? n : u === 's' ? n * 1000 : n * 60_000)
}

/** A whole number within [min, max]. */
export function parseCount (text: string, flag: string, min = 1, max = 1_000_000): number {
  if (!/^\d+$/.test(text.trim())) throw new InvalidInputError(`${flag} takes a whole number (got "${text}")`)
  const n = Number(text)
  if (n < min || n > max) throw new InvalidInputError(`${flag} must be between ${min} and ${max} (got ${n})`)
  return n
}

/** As a commander argParser: commander prints the one line (ERR_USAGE) and exits 2. */
function asArgParser<T> (fn: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return fn(text)
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message)
    }
  }
}

/** `.option('--wait-direct <d>', '…', durationOf('--wait-direct'))` */
export const durationOf = (flag: string, unit: 's' | 'ms' = 's'): (text: string) => number => asArgParser(text => parseDuration(text, flag, unit))
/** `.option('--count <n>', '…', countOf('--count', 1, 1000), 4)` */
export const countOf = (flag: string, min = 1, max = 1_000_000): (text: string) => number => asArgParser(text => parseCount(text, flag, min, max))
