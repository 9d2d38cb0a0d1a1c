/**
 * The config's checker: a few typed schema builders (string, number, boolean, one-of, list,
 * object, nullable, refine, preprocess), just what `schema.ts` uses. It replaced zod, which was
 * 95 of the 292 modules a `burrow status` loaded and ~5 MB of every daemon's RSS.
 *
 * A schema's `check(value)` returns the value (preprocessed, objects rebuilt with only their
 * declared keys) or the first problem: its path in the config and a one-line message.
 */

export type Path = Array<string | number>

export interface Problem {
  path: Path
  message: string
}

export type Checked<T> = { ok: true, value: T } | { ok: false, problem: Problem }

class Failed extends Error {
  constructor (readonly problem: Problem) {
    super(problem.message)
  }
}

function fail (path: Path, message: string): never {
  throw new Failed({ path, message })
}

/** how a value looks, for "expected …, got …" */
function describe (v: unknown): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'string') return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`
  if (typeof v === 'number') return `the number ${v}`
  if (typeof v === 'object') return 'an object'
  return `a ${typeof v}`
}

export class Schema<T> {
  constructor (protected readonly run: (v: unknown, path: Path) => T) {}

  /** the value checked and rebuilt, or the first problem */
  check (v: unknown): Checked<T> {
    try {
      return { ok: true, value: this.run(v, []) }
    } catch (err) {
      if (err instanceof Failed) return { ok: false, problem: err.problem }
      throw err
    }
  }

  /** for builders: checks at a path, throws the problem */
  at (v: unknown, path: Path): T {
    return this.run(v, path)
  }

  nullable (): Schema<T | null> {
    return new Schema((v, path) => v === null ? null : this.run(v, path))
  }

  refine (ok: (v: T) => boolean, message: string): Schema<T> {
    return new Schema((v, path) => {
      const value = this.run(v, path)
      if (!ok(value)) fail(path, message)
      return value
    })
  }
}

export type Infer<S> = S extends Schema<infer T> ? T : never

export class StringSchema extends Schema<string> {
  constructor (private readonly checks: Array<(s: string, path: Path) => void> = []) {
    super((v, path) => {
      if (typeof v !== 'string') fail(path, `expected text, got ${describe(v)}`)
      for (const c of checks) c(v, path)
      return v
    })
  }

  regex (re: RegExp, message: string): StringSchema {
    return new StringSchema([...this.checks, (s, path) => { if (!re.test(s)) fail(path, message) }])
  }

  /** a check that says what is wrong: a message, or undefined when the text is fine */
  problem (why: (s: string) => string | undefined): StringSchema {
    return new StringSchema([...this.checks, (s, path) => {
      const message = why(s)
      if (message !== undefined) fail(path, message)
    }])
  }
}

export class NumberSchema extends Schema<number> {
  constructor (private readonly checks: Array<(n: number, path: Path) => void> = []) {
    super((v, path) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, `expected a number, got ${describe(v)}`)
      for (const c of checks) c(v, path)
      return v
    })
  }

  private with (c: (n: number, path: Path) => void): NumberSchema {
    return new NumberSchema([...this.checks, c])
  }

  int (): NumberSchema {
    return this.with((n, path) => { if (!Number.isInteger(n)) fail(path, `expected a whole number, got ${n}`) })
  }

  positive (): NumberSchema {
    return this.with((n, path) => { if (n <= 0) fail(path, `expected a number above 0, got ${n}`) })
  }

  min (min: number): NumberSchema {
    return this.with((n, path) => { if (n < min) fail(path, `too small: the least is ${min}`) })
  }

  max (max: number): NumberSchema {
    return this.with((n, path) => { if (n > max) fail(path, `too large: the most is ${max}`) })
  }
}

export const string = (): StringSchema => new StringSchema()
export const number = (): NumberSchema => new NumberSchema()

export const boolean = (): Schema<boolean> => new Schema((v, path) => {
  if (typeof v !== 'boolean') fail(path, `expected true or false, got ${describe(v)}`)
  return v
})

export function oneOf<const T extends readonly string[]> (options: T): Schema<T[number]> {
  return new Schema((v, path) => {
    if (typeof v !== 'string' || !options.includes(v)) fail(path, `expected one of ${options.join(', ')}, got ${describe(v)}`)
    return v as T[number]
  })
}

export function list<T> (item: Schema<T>): Schema<T[]> {
  return new Schema((v, path) => {
    if (!Array.isArray(v)) fail(path, `expected a list, got ${describe(v)}`)
    return v.map((x, i) => item.at(x, [...path, i]))
  })
}

/** An object with exactly these keys (an unknown key is a problem, as a typo would be). */
export function object<S extends Record<string, Schema<unknown>>> (shape: S): Schema<{ [K in keyof S]: Infer<S[K]> }> {
  return new Schema((v, path) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, `expected an object, got ${describe(v)}`)
    const given = v as Record<string, unknown>
    const out: Record<string, unknown> = {}
    for (const [key, schema] of Object.entries(shape)) out[key] = schema.at(given[key], [...path, key])
    for (const key of Object.keys(given)) {
      if (!Object.hasOwn(shape, key)) fail([...path, key], `unknown setting ${JSON.stringify(key)}`)
    }
    return out as { [K in keyof S]: Infer<S[K]> }
  })
}

/** `then` checks the value `before` returns */
export function preprocess<T> (before: (v: unknown) => unknown, then: Schema<T>): Schema<T> {
  return new Schema((v, path) => then.at(before(v), path))
}
