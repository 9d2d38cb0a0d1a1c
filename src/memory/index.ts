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
