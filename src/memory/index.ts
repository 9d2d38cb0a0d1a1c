/**
 * The daemon's idle memory. Starting a node allocates a lot that is garbage once it is up
 * (module sources parsed, the DHT's and identify's first exchanges), and V8 grows its young
 * generation to 16 MB semi-spaces for that burst. V8's memory reducer gives the memory back
 * only after ~20–30 s of quiet; a daemon that is ready asks for it at once instead: one
 * full, memory-reducing collection (V8's "last resort" GC: it also shrinks the young
 * generation, which grows again under load, so throughput is unchanged). Measured on an
 * idle daemon with defaults: RSS 122 → 97 MB (bench/memory.ts).
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

type GcFunction = (options?: { type?: 'minor' | 'major', execution?: 'sync' | 'async', flavor?: 'regular' | 'last-resort' }) => void

let gcFn: GcFunction | null | undefined

/** V8's gc() without starting Node with --expose-gc: the flag is set only while a fresh context picks it up. */
function gcFunction (): GcFunction | null {
  if (gcFn !== undefined) return gcFn
  const exposed = (globalThis as { gc?: GcFunction }).gc
  if (typeof exposed === 'function') {
    gcFn = exposed
    return gcFn
  }
  try {
    setFlagsFromString('--expose-gc')
    const fn = runInNewContext('gc') as unknown
    gcFn = typeof fn === 'function' ? fn as GcFunction : null
  } catch {
    gcFn = null
  } finally {
    setFlagsFromString('--no-expose-gc')
  }
  return gcFn
}

/**
 * One full, memory-reducing collection (a pause of tens of ms): call when a burst of
 * allocation is over and the process goes idle. Returns the RSS before and after in bytes,
 * or null where V8 offers no gc function.
 */
export function compactHeap (): { rssBefore: number, rssAfter: number } | null {
  const gc = gcFunction()
  if (gc == null) return null
  const rssBefore = process.memoryUsage.rss()
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
  return { rssBefore, rssAfter: process.memoryUsage.rss() }
}

/** V8 flags that size the heap; one the user gave (node's argv or NODE_OPTIONS) is kept. */
const HEAP_SIZE_FLAG = /(?:^|\s)--max[-_](?:old[-_]space|heap)[-_]size(?:[=\s]|$)/

/** Did the user start Node with a heap size of their own? */
function heapSizeGiven (execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return execArgv.some(a => HEAP_SIZE_FLAG.test(a)) || HEAP_SIZE_FLAG.test(nodeOptions ?? '')
}

/**
 * glibc malloc's settings the daemon runs with (Linux). By default glibc gives each thread
 * that allocates an arena of its own (up to 8 per core), and it raises its mmap threshold
 * each time a large block mapped apart is freed (up to 32 MB), after which blocks that size
 * come from the heap, and free memory up to twice that stays in it. Under a daemon's
 * traffic that is memory that only grows: in 1-hour soaks (bench/soak.ts, 10 nodes, messages
 * and connection churn) the memory outside V8's heap grew 6.0 MB/hour per node with glibc's
 * defaults, and 0.05 with these (two arenas; blocks of 128 KiB and more mapped apart and
 * unmapped when freed; the heap's free top given back beyond 128 KiB).
 * A process that embeds burrow can start Node with the same variables.
 */
export const DAEMON_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072'
}

/** Did the user tune malloc (any of DAEMON_MALLOC_ENV's variables, or glibc.malloc.* in GLIBC_TUNABLES)? Then it is left as they set it. */
function mallocTuned (env: NodeJS.ProcessEnv): boolean {
  return Object.keys(DAEMON_MALLOC_ENV).some(k => env[k] != null) || /(?:^|:)glibc\.malloc\./.test(env.GLIBC_TUNABLES ?? '')
}

/** What a daemon's process adds to `env`: DAEMON_MALLOC_ENV on Linux, unless the user tuned malloc. */
export function daemonMallocEnv (env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return process.platform === 'linux' && !mallocTuned(env) ? { ...DAEMON_MALLOC_ENV } : {}
}

export interface RelaunchPlan {
  /** cap V8's old generation (relay.maxHeapMb); 0 or undefined: no cap */
  maxHeapMb?: number
  /** run with DAEMON_MALLOC_ENV (Linux only) */
  tuneMalloc?: boolean
}

/**
 * Re-runs this process, in place, with what `plan` asks for that it does not run with yet:
 * V8's old generation capped at `maxHeapMb` (`--max-old-space-size`), glibc's malloc set as
 * DAEMON_MALLOC_ENV. `process.execve` keeps the PID, so a
 * supervisor (systemd, Docker, a PID file) sees no change. Both are read only when the
 * process starts: V8 sizes its heap then (`v8.setFlagsFromString` after start leaves the
 * limit as it was), and its default limit follows the machine's memory (4.3 GB on 24 GB):
 * under load it lets garbage grow to that before it works hard to collect it, so a busy
 * relay's RSS is mostly garbage; glibc reads its settings at its first allocation. Call
 * before anything is opened: the process starts over from `main`. A heap size or malloc
 * settings the user gave (node's argv, NODE_OPTIONS, the environment) are kept.
 *
 * Returns undefined when there is nothing to do; a one-line note when the heap limit
 * cannot be set (a Node without `process.execve`, < 22.15). Does not return when it re-runs.
 */
export function relaunch (plan: RelaunchPlan): string | undefined {
  const heapMb = plan.maxHeapMb ?? 0
  const heap = heapMb > 0 && !heapSizeGiven(process.execArgv, process.env.NODE_OPTIONS)
  const mallocEnv = plan.tuneMalloc === true ? daemonMallocEnv() : {}
  const malloc = Object.keys(mallocEnv).length > 0
  if (!heap && !malloc) return undefined
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve
  const notApplied = (why: string): string | undefined => heap ? `heap: relay.maxHeapMb not applied: ${why}; start with NODE_OPTIONS=--max-old-space-size=${heapMb}` : undefined
  if (typeof execve !== 'function') return notApplied(`Node ${process.versions.node} has no process.execve (Node >= 22.15 has)`)
  const script = process.argv[1] ?? ''
  const flags = heap ? [`--max-old-space-size=${heapMb}`] : []
  const env = malloc ? { ...process.env, ...mallocEnv } : process.env
  try {
    execve.call(process, process.execPath, [process.execPath, ...process.execArgv, ...flags, script, ...process.argv.slice(2)], env)
  } catch (err) {
    return notApplied(`re-running Node failed (${(err as Error).message})`)
  }
  return undefined // not reached: execve replaced the process
}
