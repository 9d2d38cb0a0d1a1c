/**
 * A relay runs with V8's heap capped (relay.maxHeapMb, issue 12: 5,000 reservations and
 * 1,000 circuits within 1 GiB). Without the cap V8's limit follows the machine's RAM and a
 * busy relay's RSS is mostly garbage (bench/relay.ts). The daemon re-runs itself with
 * --max-old-space-size in place: the PID a supervisor started is the one that runs, with
 * the flag; a heap size the user gave node is kept; a node that is no relay is left alone.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { startDaemon, stopAll } from '../helpers/burrow.ts'
import type { Daemon } from '../helpers/burrow.ts'

/** The command line of the process at the daemon's PID, as the kernel has it now. */
function cmdline (d: Daemon): string[] {
  return readFileSync(`/proc/${d.child.pid ?? -1}/cmdline`, 'utf8').split('\0').filter(a => a !== '')
}

/** V8's heap limit the daemon says it runs with, in MB. */
function heapLine (d: Daemon): number | undefined {
  const m = /^heap: V8 heap limit (\d+) MB/m.exec(d.output())
  return m?.[1] == null ? undefined : Number(m[1])
}

const NO_NODE_OPTIONS = { NODE_OPTIONS: '' }

describe('relay heap limit (relay.maxHeapMb)', { timeout: 120_000 }, () => {
  after(async () => { await stopAll() })

  it('a relay daemon runs, at the PID it was started with, with the heap capped at relay.maxHeapMb', async () => {
    const d = await startDaemon('heap-relay', { args: ['--relay-server', 'on', '--port-mapping', 'off'], env: { ...NO_NODE_OPTIONS, BURROW_RELAY_MAX_HEAP_MB: '300' } })
    assert.ok(cmdline(d).includes('--max-old-space-size=300'), `the daemon's command line: ${cmdline(d).join(' ')}`)
    const limit = heapLine(d)
    assert.ok(limit !== undefined && limit >= 300 && limit < 600, `the daemon says its heap limit: ${d.output()}`)
  })

  it('keeps the heap size the user gave node (NODE_OPTIONS)', async () => {
    const d = await startDaemon('heap-user', { args: ['--relay-server', 'on', '--port-mapping', 'off'], env: { NODE_OPTIONS: '--max-old-space-size=200' } })
    assert.ok(!cmdline(d).some(a => a.startsWith('--max-old-space-size')), `no flag of ours: ${cmdline(d).join(' ')}`)
    const limit = heapLine(d)
    assert.ok(limit !== undefined && limit >= 200 && limit < 300, `the user's limit is in force: ${d.output()}`)
  })

  it('leaves a node that is no relay as it was started', async () => {
    const d = await startDaemon('heap-off', { args: ['--relay-server', 'off', '--port-mapping', 'off'], env: NO_NODE_OPTIONS })
    assert.ok(!cmdline(d).some(a => a.startsWith('--max-old-space-size')), `the daemon's command line: ${cmdline(d).join(' ')}`)
    assert.equal(heapLine(d), undefined)
  })
})
