/**
 * A small fuzzing engine with no dependency: a seeded PRNG, random inputs and mutations of
 * valid seed encodings (bit flips, truncation, splicing, length-field tweaks, varint edge
 * values, dictionary tokens), and one property for every target:
 *
 * - the target returns a value, or throws an Error instance (never a string, a number, an
 *   object that is not an Error), unless it is total (`total: true`), where any throw counts;
 * - it returns or throws in bounded time (an async target that has not settled after
 *   `hangMs` counts; a sync one that took that long counts once it returns);
 * - what it returns is not much larger than what it was fed (a 10-byte input must not
 *   become 100 MB), and no single input grows the process's ArrayBuffer memory by more
 *   than `maxAllocBytes`;
 * - where the target has an encoder, decode(encode(x)) gives x back for valid x.
 *
 * A violation is shrunk (bounded) and reported with its input in hex, so it can be replayed
 * with `npm run fuzz -- --target <name> --replay <hex>`. Everything is driven by one seed,
 * printed at the start, so a run can be repeated exactly (`--seed`).
 */

import { isDeepStrictEqual } from 'node:util'

/** Thrown by a target's run when what came back breaks the target's own property. */
export class PropertyError extends Error {
  override name = 'PropertyError'
}

/** Thrown by a target when the harness itself failed (its setup for one input): never excused. */
export class HarnessError extends Error {
  override name = 'HarnessError'
}

/** A PRNG: sfc32 seeded through splitmix32, small and good enough for fuzzing. */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number) {
    let s = seed >>> 0
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
    for (let i = 0; i < 12; i++) this.u32()
  }

  u32 (): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t >>> 0
  }

  /** An integer in [0, n). */
  int (n: number): number {
    return n <= 0 ? 0 : Math.floor((this.u32() / 0x100000000) * n)
  }

  bool (p = 0.5): boolean {
    return this.u32() / 0x100000000 < p
  }

  pick<T> (xs: readonly T[]): T {
    if (xs.length === 0) throw new RangeError('pick from an empty list')
    return xs[this.int(xs.length)] as T
  }

  bytes (n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff
    return out
  }

  /** Lengths skewed small: most inputs are short, a few are long. */
  length (max: number): number {
    const r = this.int(10)
    if (r < 5) return this.int(Math.min(max, 32) + 1)
    if (r < 8) return this.int(Math.min(max, 256) + 1)
    return this.int(max + 1)
  }

  /** A 64-bit unsigned value, biased towards edges. */
  u64 (): bigint {
    if (this.bool(0.3)) return this.pick(U64_EDGES)
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32())
  }

  /** A string of random code points (ASCII, BMP, astral), `max` characters at most. */
  string (max: number): string {
    const n = this.length(max)
    let s = ''
    for (let i = 0; i < n; i++) {
      const r = this.int(10)
      const cp = r < 7 ? 0x20 + this.int(0x5f) : r < 9 ? this.int(0xd800) : 0x10000 + this.int(0x100000)
      s += String.fromCodePoint(cp)
    }
    return s
  }
}

/** Values at the edges of integer ranges, as varints often carry them. */
export const U64_EDGES: readonly bigint[] = [
  0n, 1n, 127n, 128n, 255n, 256n, 16383n, 16384n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
  2n ** 53n - 1n, 2n ** 53n, 8_640_000_000_000_000n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n
]

/** Unsigned LEB128, as protobuf and the framing prefix use. */
export function varint (v: bigint): Uint8Array {
  const out: number[] = []
  let n = BigInt.asUintN(64, v)
  while (n >= 0x80n) {
    out.push(Number(n & 0x7fn) | 0x80)
    n >>= 7n
  }
  out.push(Number(n))
  return Uint8Array.from(out)
}

/** Varint encodings at the edges, plus forms that are overlong or never end. */
const VARINT_EDGES: readonly Uint8Array[] = [
  ...U64_EDGES.map(varint),
  Uint8Array.of(0x80, 0x00), // overlong zero
  Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), // 2^63, 10 bytes
  Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), // 11 bytes, past 64 bits
  new Uint8Array(16).fill(0xff) // never ends
]

const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x0a, 0x10, 0x12, 0x1a, 0x22, 0x7f, 0x80, 0x81, 0xfe, 0xff]
const INTERESTING_U16 = [0, 1, 2, 4, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffc, 0xffff]
const INTERESTING_U32 = [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]

function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.byteLength
  }
  return out
}

type Mutator = (rng: Rng, b: Uint8Array, ctx: MutationContext) => Uint8Array

interface MutationContext {
  seeds: readonly Uint8Array[]
  dictionary: readonly Uint8Array[]
  maxLen: number
}

/** Reads a varint at `pos`; undefined if none ends within 10 bytes. */
function readVarint (b: Uint8Array, pos: number): { value: bigint, end: number } | undefined {
  let v = 0n
  for (let i = 0; i < 10 && pos + i < b.byteLength; i++) {
    const byte = b[pos + i] ?? 0
    v |= BigInt(byte & 0x7f) << BigInt(7 * i)
    if ((byte & 0x80) === 0) return { value: v, end: pos + i + 1 }
  }
  return undefined
}

const MUTATORS: Array<[string, Mutator]> = [
  ['bit-flip', (rng, b) => {
    if (b.byteLength === 0) return b
    const out = b.slice()
    const i = rng.int(out.byteLength)
    out[i] = (out[i] ?? 0) ^ (1 << rng.int(8))
    return out
  }],
  ['interesting-byte', (rng, b) => {
    if (b.byteLength === 0) return b
    const out = b.slice()
    out[rng.int(out.byteLength)] = rng.pick(INTERESTING_BYTES)
    return out
  }],
  ['random-byte', (rng, b) => {
    if (b.byteLength === 0) return b
    const out = b.slice()
    out[rng.int(out.byteLength)] = rng.int(256)
    return out
  }],
  ['delete-range', (rng, b) => {
    if (b.byteLength === 0) return b
    const i = rng.int(b.byteLength)
    const n = 1 + rng.int(Math.min(16, b.byteLength - i))
    return concat(b.subarray(0, i), b.subarray(i + n))
  }],
  ['insert-random', (rng, b) => {
    const i = rng.int(b.byteLength + 1)
    return concat(b.subarray(0, i), rng.bytes(1 + rng.int(16)), b.subarray(i))
  }],
  ['duplicate-range', (rng, b) => {
    if (b.byteLength === 0) return b
    const i = rng.int(b.byteLength)
    const n = 1 + rng.int(Math.min(64, b.byteLength - i))
    const at = rng.int(b.byteLength + 1)
    const chunk = b.slice(i, i + n)
    const copies = rng.bool(0.2) ? 1 + rng.int(8) : 1
    return concat(b.subarray(0, at), ...Array<Uint8Array>(copies).fill(chunk), b.subarray(at))
  }],
  ['truncate', (rng, b) => b.slice(0, rng.int(b.byteLength + 1))],
  ['splice', (rng, b, ctx) => {
    const other = rng.pick(ctx.seeds)
    return concat(b.subarray(0, rng.int(b.byteLength + 1)), other.subarray(rng.int(other.byteLength + 1)))
  }],
  ['varint-edge', (rng, b) => {
    const at = rng.int(b.byteLength + 1)
    const edge = rng.pick(VARINT_EDGES)
    const old = readVarint(b, at)
    // replace the varint found there (a tag or a length), or insert one
    const end = old != null && rng.bool(0.7) ? old.end : at
    return concat(b.subarray(0, at), edge, b.subarray(end))
  }],
  ['length-tweak', (rng, b) => {
    // a varint read as a length: off by one either way, or the rest of the input
    if (b.byteLength === 0) return b
    const at = rng.int(b.byteLength)
    const old = readVarint(b, at)
    if (old == null) return b
    const rest = BigInt(b.byteLength - old.end)
    const v = rng.pick([old.value + 1n, old.value > 0n ? old.value - 1n : 0n, rest, rest + 1n, old.value * 2n, old.value + 0x10000n])
    return concat(b.subarray(0, at), varint(v), b.subarray(old.end))
  }],
  ['fixed-int', (rng, b) => {
    // big-endian 16/32-bit fields (STUN, NAT-PMP, PCP): edge values and the input's own length
    if (b.byteLength < 2) return b
    const out = b.slice()
    const view = new DataView(out.buffer)
    if (b.byteLength >= 4 && rng.bool()) {
      const at = rng.int(b.byteLength - 3)
      view.setUint32(at, rng.bool(0.8) ? rng.pick(INTERESTING_U32) : b.byteLength + rng.int(9) - 4)
    } else {
      const at = rng.int(b.byteLength - 1)
      view.setUint16(at, (rng.bool(0.8) ? rng.pick(INTERESTING_U16) : b.byteLength + rng.int(9) - 4) & 0xffff)
    }
    return out
  }],
  ['dictionary', (rng, b, ctx) => {
    if (ctx.dictionary.length === 0) return b
    const token = rng.pick(ctx.dictionary)
    const at = rng.int(b.byteLength + 1)
    const end = rng.bool(0.3) ? Math.min(b.byteLength, at + token.byteLength) : at
    return concat(b.subarray(0, at), token, b.subarray(end))
  }],
  ['repeat-token', (rng, b, ctx) => {
    // a token many times over: what makes a backtracking or quadratic parser slow
    if (ctx.dictionary.length === 0) return b
    const token = rng.pick(ctx.dictionary)
    const times = 1 + rng.int(Math.max(1, Math.floor((ctx.maxLen - b.byteLength) / Math.max(1, token.byteLength))))
    const at = rng.int(b.byteLength + 1)
    return concat(b.subarray(0, at), ...Array<Uint8Array>(Math.min(times, 1 << 16)).fill(token), b.subarray(at))
  }],
  ['append-random', (rng, b) => concat(b, rng.bytes(1 + rng.int(32)))]
]

/** One to eight stacked mutations of `input`, capped at `maxLen` bytes. */
export function mutate (rng: Rng, input: Uint8Array, ctx: MutationContext): Uint8Array {
  let out = input
  const rounds = 1 + rng.int(rng.bool(0.7) ? 2 : 8)
  for (let i = 0; i < rounds; i++) {
    out = rng.pick(MUTATORS)[1](rng, out, ctx)
    if (out.byteLength > ctx.maxLen) out = out.slice(0, ctx.maxLen)
  }
  return out
}

/** One thing a peer or a LAN device can feed us. Adding a target is one entry in the table. */
export interface FuzzTarget {
  name: string
  /** What it covers, for the report. */
  about: string
  /** Valid encodings to mutate (and splice). */
  seeds: () => Uint8Array[] | Promise<Uint8Array[]>
  /** Tokens worth inserting (tags, keywords, delimiters). */
  dictionary?: Uint8Array[]
  /** Feed one input; return what the code under test made of it. */
  run: (input: Uint8Array) => unknown
  /** A valid value, encoded and decoded; throws (e.g. an AssertionError) if it does not come back. */
  roundTrip?: (rng: Rng) => unknown
  /** Any throw is a violation, not only a non-Error one (the target says it never throws). */
  total?: boolean
  /** Largest input generated (default 4096). */
  maxLen?: number
  /** Output may be this many times the input's size, plus 4 KiB (default 4). */
  outputFactor?: number
  /** Called once before and once after a run (resources such as a temp dir or a datastore). */
  setup?: () => Promise<void>
  teardown?: () => Promise<void>
}

export type ViolationKind = 'harness' | 'non-error-throw' | 'throw' | 'property' | 'hang' | 'slow' | 'output-size' | 'allocation' | 'round-trip'

export interface Violation {
  target: string
  kind: ViolationKind
  detail: string
  /** The (shrunk) input, hex; empty for a round-trip failure (see `detail`). */
  inputHex: string
  inputBytes: number
}

export interface TargetReport {
  target: string
  about: string
  seed: number
  inputs: number
  roundTrips: number
  ms: number
  inputsPerSecond: number
  slowestMs: number
  violations: Violation[]
}

export interface RunOptions {
  /** Time to spend on the target (ms); the run stops at whichever of this and maxInputs comes first. */
  durationMs: number
  maxInputs?: number
  seed: number
  /** An async target not settled after this long is a hang; a sync one that took this long is 'slow'. */
  hangMs?: number
  /** No single input may grow ArrayBuffer memory by more than this. */
  maxAllocBytes?: number
  /** Stop after this many distinct violations. */
  maxViolations?: number
}

/** 5 s: every target decodes at most a few KiB; on a loaded 2-core machine the slowest honest input takes ~0.3 s. */
const DEFAULT_HANG_MS = 5_000
/** 64 MiB: 16 000 times the largest default input, far below what a 10-byte input allocating 100 MB would show. */
const DEFAULT_MAX_ALLOC_BYTES = 64 * 1024 * 1024
/** Decoders' output is their input, re-shaped: 4× plus 4 KiB of object overhead leaves room for strings and arrays. */
const DEFAULT_OUTPUT_FACTOR = 4
const OUTPUT_SLACK_BYTES = 4096
/** 4 KiB: DCUtR's message cap (DCUtR.md) and above every header-sized format fuzzed here. */
const DEFAULT_MAX_LEN = 4096
/** Enough to shrink a few-KiB input to its core; a shrink stays well under a second. */
const SHRINK_ATTEMPTS = 400

/** A seed per target derived from the run's seed, so one target can be replayed alone. */
export function targetSeed (seed: number, name: string): number {
  let h = seed >>> 0
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0
  return h
}

/** A value for a report line: bigints and bytes readable, long values cut. */
export function show (value: unknown): string {
  const s = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`
    if (v instanceof Uint8Array) return `0x${toHex(v)}`
    return v
  }) ?? String(value)
  return s.length > 300 ? `${s.slice(0, 300)}…` : s
}

/**
 * Checks decode(encode(x)) deep-equals x; on failure throws an Error naming x, what came
 * back and the encoding in hex, so the report alone reproduces it.
 */
export function roundTrips<T> (x: T, encode: (x: T) => Uint8Array, decode: (b: Uint8Array) => T): void {
  const bytes = encode(x)
  let back: T
  try {
    back = decode(bytes)
  } catch (err) {
    throw new Error(`decode(encode(x)) threw ${describe(err)}; x = ${show(x)}, encoding 0x${toHex(bytes)}`)
  }
  if (!isDeepStrictEqual(back, x)) throw new Error(`decode(encode(x)) differs; x = ${show(x)}, back ${show(back)}, encoding 0x${toHex(bytes)}`)
}

/** Rough size of a value in bytes: typed arrays, strings, arrays and objects, depth-limited. */
export function sizeOf (value: unknown, depth = 0, seen = new Set<object>()): number {
  if (value == null) return 0
  if (typeof value === 'string') return value.length
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return 8
  if (typeof value !== 'object') return 8
  if (ArrayBuffer.isView(value)) return value.byteLength
  if (value instanceof ArrayBuffer) return value.byteLength
  if (seen.has(value) || depth > 16) return 0
  seen.add(value)
  let n = 8
  if (Array.isArray(value)) {
    n += value.length * 8
    for (const v of value) n += sizeOf(v, depth + 1, seen)
    return n
  }
  if (value instanceof Map) {
    for (const [k, v] of value) n += sizeOf(k, depth + 1, seen) + sizeOf(v, depth + 1, seen)
    return n
  }
  for (const [k, v] of Object.entries(value)) n += k.length + sizeOf(v, depth + 1, seen)
  return n
}

export function toHex (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

export function fromHex (s: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/i.test(s)) throw new RangeError(`not hex: ${s.slice(0, 40)}`)
  return new Uint8Array(Buffer.from(s, 'hex'))
}

interface Outcome {
  kind?: ViolationKind
  detail?: string
  ms: number
}

function describe (err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message.split('\n')[0] ?? ''}`.slice(0, 600)
  let s: string
  try {
    s = typeof err === 'object' ? JSON.stringify(err) : String(err)
  } catch {
    s = Object.prototype.toString.call(err)
  }
  return `${typeof err} ${s}`.slice(0, 300)
}

const arrayBuffers = (): number => process.memoryUsage().arrayBuffers

/** Feeds one input and judges what happened. */
export async function check (target: FuzzTarget, input: Uint8Array, hangMs = DEFAULT_HANG_MS, maxAllocBytes = DEFAULT_MAX_ALLOC_BYTES): Promise<Outcome> {
  const before = arrayBuffers()
  const start = performance.now()
  let result: unknown
  let thrown: { err: unknown } | undefined
  try {
    result = target.run(input)
    if (result instanceof Promise) {
      let timer: ReturnType<typeof setTimeout> | undefined
      const hung = Symbol('hung')
      const settled = await Promise.race([
        result,
        new Promise<typeof hung>(resolve => { timer = setTimeout(() => { resolve(hung) }, hangMs) })
      ]).finally(() => { clearTimeout(timer) })
      if (settled === hung) return { kind: 'hang', detail: `did not settle within ${hangMs} ms`, ms: performance.now() - start }
      result = settled
    }
  } catch (err) {
    thrown = { err }
  }
  const ms = performance.now() - start
  const grown = arrayBuffers() - before
  if (grown > maxAllocBytes) return { kind: 'allocation', detail: `ArrayBuffer memory grew by ${grown} bytes on a ${input.byteLength}-byte input`, ms }
  if (thrown != null) {
    if (!(thrown.err instanceof Error)) return { kind: 'non-error-throw', detail: describe(thrown.err), ms }
    if (thrown.err instanceof HarnessError) return { kind: 'harness', detail: describe(thrown.err), ms }
    if (thrown.err instanceof PropertyError) return { kind: 'property', detail: describe(thrown.err), ms }
    if (target.total === true) return { kind: 'throw', detail: describe(thrown.err), ms }
  } else {
    const limit = (target.outputFactor ?? DEFAULT_OUTPUT_FACTOR) * input.byteLength + OUTPUT_SLACK_BYTES
    const size = sizeOf(result)
    if (size > limit) return { kind: 'output-size', detail: `output of ~${size} bytes from a ${input.byteLength}-byte input`, ms }
  }
  if (ms > hangMs) return { kind: 'slow', detail: `took ${Math.round(ms)} ms`, ms }
  return { ms }
}

/** A smaller input with the same kind of violation (bounded attempts: delete chunks, then bytes). */
async function shrink (target: FuzzTarget, input: Uint8Array, kind: ViolationKind, hangMs: number, maxAllocBytes: number): Promise<Uint8Array> {
  if (kind === 'hang' || kind === 'slow') return input // each attempt would cost a hang
  let best = input
  let attempts = 0
  for (let chunk = Math.max(1, best.byteLength >> 1); chunk >= 1 && attempts < SHRINK_ATTEMPTS; chunk >>= 1) {
    for (let i = 0; i < best.byteLength && attempts < SHRINK_ATTEMPTS;) {
      const candidate = concat(best.subarray(0, i), best.subarray(i + chunk))
      attempts++
      const o = await check(target, candidate, hangMs, maxAllocBytes)
      if (o.kind === kind) best = candidate
      else i += chunk
    }
  }
  return best
}

/** Violations count as one when their kind and the first two parts of their text agree (numbers aside). */
function signatureOf (kind: ViolationKind, detail: string): string {
  return `${kind} ${detail.split(':').slice(0, 2).join(':').replace(/\d+/g, 'N')}`
}

/** Fuzzes one target for a while; resolves with what it found. */
export async function fuzzTarget (target: FuzzTarget, options: RunOptions): Promise<TargetReport> {
  const seed = targetSeed(options.seed, target.name)
  const rng = new Rng(seed)
  const hangMs = options.hangMs ?? DEFAULT_HANG_MS
  const maxAllocBytes = options.maxAllocBytes ?? DEFAULT_MAX_ALLOC_BYTES
  const maxViolations = options.maxViolations ?? 5
  const maxLen = target.maxLen ?? DEFAULT_MAX_LEN
  await target.setup?.()
  const violations: Violation[] = []
  const signatures = new Set<string>()
  let inputs = 0
  let roundTrips = 0
  let slowestMs = 0
  const start = performance.now()
  try {
    const seeds = await target.seeds()
    if (seeds.length === 0) throw new Error(`fuzz target ${target.name} has no seeds`)
    const ctx: MutationContext = { seeds, dictionary: target.dictionary ?? [], maxLen }
    let last = performance.now()
    const record = async (kind: ViolationKind, detail: string, input: Uint8Array): Promise<void> => {
      const signature = signatureOf(kind, detail)
      if (signatures.has(signature)) return
      signatures.add(signature)
      const small = input.byteLength > 0 ? await shrink(target, input, kind, hangMs, maxAllocBytes) : input
      const again = await check(target, small, hangMs, maxAllocBytes)
      violations.push({ target: target.name, kind, detail: again.kind === kind ? (again.detail ?? detail) : detail, inputHex: toHex(small), inputBytes: small.byteLength })
    }
    while (performance.now() - start < options.durationMs && (options.maxInputs == null || inputs < options.maxInputs) && violations.length < maxViolations) {
      if (target.roundTrip != null && rng.bool(0.1)) {
        roundTrips++
        try {
          await target.roundTrip(rng)
        } catch (err) {
          const detail = describe(err)
          const signature = signatureOf('round-trip', detail)
          if (!signatures.has(signature)) {
            signatures.add(signature)
            violations.push({ target: target.name, kind: 'round-trip', detail, inputHex: '', inputBytes: 0 })
          }
        }
        continue
      }
      // the first inputs are the seeds themselves, then: 10% random bytes, 90% mutated seeds
      const input = inputs < seeds.length
        ? (seeds[inputs] as Uint8Array)
        : rng.bool(0.1) ? rng.bytes(rng.length(maxLen)) : mutate(rng, rng.pick(seeds), ctx)
      inputs++
      const o = await check(target, input, hangMs, maxAllocBytes)
      if (o.ms > slowestMs) slowestMs = o.ms
      if (o.kind != null) await record(o.kind, o.detail ?? '', input)
      if (performance.now() - last > 50) {
        // let timers and I/O run: a sync target would otherwise hold the event loop for the whole run
        await new Promise(resolve => setImmediate(resolve))
        last = performance.now()
      }
    }
  } finally {
    await target.teardown?.()
  }
  const ms = performance.now() - start
  return {
    target: target.name,
    about: target.about,
    seed,
    inputs,
    roundTrips,
    ms: Math.round(ms),
    inputsPerSecond: Math.round(inputs / Math.max(ms, 1) * 1000),
    slowestMs: Math.round(slowestMs * 10) / 10,
    violations
  }
}

/** One line per target for the logs, then one block per violation with its input in hex. */
export function formatReport (r: TargetReport): string {
  const head = `${r.target.padEnd(18)} ${String(r.inputs).padStart(8)} inputs ${String(r.inputsPerSecond).padStart(7)}/s ` +
    `${String(r.roundTrips).padStart(6)} round trips  slowest ${r.slowestMs} ms  seed ${r.seed}  ` +
    (r.violations.length === 0 ? 'ok' : `${r.violations.length} violation(s)`)
  const lines = [head]
  for (const v of r.violations) {
    const hex = v.inputHex.length > 8192 ? `${v.inputHex.slice(0, 8192)}… (${v.inputBytes} bytes)` : v.inputHex
    lines.push(`  ${v.kind}: ${v.detail}`)
    if (v.kind !== 'round-trip') lines.push(`    input (${v.inputBytes} bytes): ${hex === '' ? '(empty)' : hex}`)
  }
  return lines.join('\n')
}
