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
 * Caps V8's old generation at `maxHeapMb` (`--max-old-space-size`) by re-running this
 * process with the flag, in place: `process.execve` keeps the PID, so a supervisor
 * (systemd, Docker, a PID file) sees no change. V8 sizes its heap only when it starts
 * (`v8.setFlagsFromString` after start leaves the limit as it was), and its default
 * limit follows the machine's memory (4.3 GB on 24 GB): under load it lets garbage
 * grow to that before it works hard to collect it, so a busy relay's RSS is mostly
 * garbage. Call before anything is opened: the process starts over from `main`.
 *
 * Returns undefined when there is nothing to do (0, or a heap size the user gave node);
 * a one-line note when the limit cannot be set (a Node without `process.execve`, < 22.15).
 * Does not return when it re-runs.
 */
export function relaunchWithHeapLimit (maxHeapMb: number): string | undefined {
  if (maxHeapMb <= 0) return undefined
  if (heapSizeGiven(process.execArgv, process.env.NODE_OPTIONS)) return undefined
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve
  if (typeof execve !== 'function') {
    return `heap: relay.maxHeapMb not applied: Node ${process.versions.node} has no process.execve (Node >= 22.15 has); start with NODE_OPTIONS=--max-old-space-size=${maxHeapMb}`
  }
  const script = process.argv[1] ?? ''
  try {
    execve.call(process, process.execPath, [process.execPath, ...process.execArgv, `--max-old-space-size=${maxHeapMb}`, script, ...process.argv.slice(2)], process.env)
  } catch (err) {
    return `heap: relay.maxHeapMb not applied: re-running Node failed (${(err as Error).message}); start with NODE_OPTIONS=--max-old-space-size=${maxHeapMb}`
  }
  return undefined // not reached: execve replaced the process
}
