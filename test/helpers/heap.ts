import { setTimeout as sleep } from 'node:timers/promises'
import { getHeapSpaceStatistics } from 'node:v8'
import { compactHeap } from '../../dist/memory/index.js'

/**
 * Bytes of JavaScript objects after full GCs: V8's data spaces, not its code spaces (the JIT
 * compiles and drops code as it goes, ±0.5 MB over a run, and that is not kept per operation).
 */
export async function liveHeapBytes (): Promise<number> {
  for (let i = 0; i < 3; i++) {
    compactHeap()
    await sleep(10) // FinalizationRegistry callbacks run after a GC
  }
  return getHeapSpaceStatistics()
    .filter(s => !/code|trusted|read_only/.test(s.space_name))
    .reduce((sum, s) => sum + s.space_used_size, 0)
}
