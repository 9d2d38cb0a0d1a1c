/**
 * Preloaded into a relay by bench/relay.ts (`--import`): on SIGUSR2 writes to the file named
 * by BURROW_MEM_PROBE where the process's memory is, as JSON: process.memoryUsage() (RSS, V8
 * heap total/used, external, array buffers) and the V8 heap limit. It collects nothing, so
 * what it reports is the process as it runs, garbage included. Plain JavaScript: Node's
 * TypeScript loader would add its own memory to the process it measures.
 */
import { renameSync, writeFileSync } from 'node:fs'
import { getHeapStatistics } from 'node:v8'

const out = process.env.BURROW_MEM_PROBE
if (out != null && out !== '') {
  process.on('SIGUSR2', () => {
    const m = process.memoryUsage()
    const h = getHeapStatistics()
    writeFileSync(`${out}.tmp`, JSON.stringify({ rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, heapLimit: h.heap_size_limit, execArgv: process.execArgv }))
    renameSync(`${out}.tmp`, out) // the reader sees a whole file or none
  })
}
