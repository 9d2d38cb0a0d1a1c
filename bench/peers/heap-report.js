/**
 * Preloaded into a daemon by bench/memory.ts (`--import`): records the URL of every module
 * loaded (synchronous module hooks), and on SIGUSR2 writes to BURROW_HEAP_REPORT:
 * `<file>.json` (process.memoryUsage, V8 heap spaces, code statistics, the module URLs)
 * and `<file>.heapsnapshot`. Plain JavaScript: Node's TypeScript loader would add its own
 * ~14 MB to the process it measures.
 */
import { registerHooks } from 'node:module'
import { writeFileSync } from 'node:fs'
import { getHeapCodeStatistics, getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8'

const out = process.env.BURROW_HEAP_REPORT
const modules = []
if (out != null && out !== '') {
  registerHooks({
    load (url, context, next) {
      modules.push(url)
      return next(url, context)
    }
  })
  process.on('SIGUSR2', () => {
    const report = {
      memory: process.memoryUsage(),
      spaces: getHeapSpaceStatistics().map(s => ({ name: s.space_name, size: s.space_size, used: s.space_used_size, physical: s.physical_space_size })),
      code: getHeapCodeStatistics(),
      modules
    }
    writeHeapSnapshot(`${out}.heapsnapshot`)
    writeFileSync(`${out}.json`, JSON.stringify(report))
  })
}
