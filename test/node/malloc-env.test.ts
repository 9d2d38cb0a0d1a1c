/**
 * Issue 12 (the soak): the daemon runs with glibc's malloc set for a long-running process
 * (src/memory DAEMON_MALLOC_ENV: two arenas, large blocks mapped apart, the heap's free top
 * given back). In 1-hour soaks the memory outside V8's heap grew 6.0 MB/hour per node with
 * glibc's defaults and 0.05 with these (bench/soak.ts, docs/DESIGN.md).
 * The daemon re-runs itself with them in place: the PID a supervisor started is the one that
 * runs; malloc settings the user gave are kept as they are.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ROOT, burrowJson, sleep, startDaemon, stopAll, tempHome } from '../helpers/burrow.ts'
import type { Daemon } from '../helpers/burrow.ts'

const MALLOC_VARS = ['MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_', 'GLIBC_TUNABLES']
// this test's own environment must not carry settings of its own into the daemons it starts
for (const k of MALLOC_VARS) Reflect.deleteProperty(process.env, k)

/** The malloc variables in the environment of the process at the daemon's PID, as the kernel has it now. */
function mallocEnv (d: Pick<Daemon, 'child'>): Record<string, string> {
  const env = readFileSync(`/proc/${d.child.pid ?? -1}/environ`, 'utf8').split('\0').filter(a => a !== '')
  return Object.fromEntries(env.map(kv => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]).filter(([k]) => MALLOC_VARS.includes(k ?? '')))
}

describe('the daemon\'s malloc settings', { skip: process.platform !== 'linux' ? 'glibc malloc settings are for Linux' : false, timeout: 120_000 }, () => {
  after(async () => { await stopAll() })

  it('a daemon runs, at the PID it was started with, with malloc set for a long-running process', async () => {
    const d = await startDaemon('malloc-default', { args: ['--port-mapping', 'off'] })
    assert.deepEqual(mallocEnv(d), { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' })
    // the process at that PID is the daemon: it answers
    const status = await burrowJson<{ peerId: string, pid?: number }>(d.home, ['status'])
    assert.equal(status.peerId, d.peerId)
  })

  it('the `burrow` binary re-runs a daemon with them before the CLI loads, at the same PID', async () => {
    const home = await tempHome('malloc-bin')
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'burrow.js'), '--home', home, 'daemon', '--network', 'test', '--listen', '/ip4/127.0.0.1/tcp/0', '--port-mapping', 'off'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { out += d.toString() })
    try {
      const deadline = Date.now() + 30_000
      while (!/^ready$/m.test(out) && child.exitCode == null && Date.now() < deadline) await sleep(50)
      assert.match(out, /^ready$/m, `the daemon did not become ready:\n${out}`)
      assert.deepEqual(mallocEnv({ child }), { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' })
      const status = await burrowJson<{ peerId: string }>(home, ['status'])
      assert.equal(`PeerId: ${status.peerId}`, /^PeerId: \S+$/m.exec(out)?.[0])
    } finally {
      child.kill('SIGKILL')
      await rm(home, { recursive: true, force: true })
    }
  })

  it('keeps the malloc settings the user gave', async () => {
    const d = await startDaemon('malloc-user', { args: ['--port-mapping', 'off'], env: { MALLOC_ARENA_MAX: '4' } })
    assert.deepEqual(mallocEnv(d), { MALLOC_ARENA_MAX: '4' })
  })
})
