// Acceptance 4: nothing of a lab (namespace, veth, process) remains after a run, also when
// the run crashes, is interrupted, or is killed outright (then the sweeper cleans up).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { listLabNamespaces, processAlive, sweepStaleLabs } from '../../lab/dist/index.js'
import { skipReason, until } from './helpers.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/crashing-lab.ts', import.meta.url))

interface Info { id: string, namespaces: string[], pids: number[], sleeper: number }

const alive = processAlive

/** Asserts that nothing of run `info` is left: namespaces, interfaces in the host's namespace, processes, state file. */
function assertGone (info: Info): void {
  const left = listLabNamespaces().filter(ns => ns.startsWith(`brw-${info.id}-`))
  assert.deepEqual(left, [], 'no namespace of the run remains')
  const links = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout
  assert.ok(!links.includes(`brw-${info.id}-`), 'no interface of the run in the host namespace')
  assert.deepEqual(info.pids.filter(alive), [], 'no process of the run remains')
  assert.ok(!existsSync(`/run/burrow-lab/${info.id}.json`), 'the run state file is gone')
  assert.ok(!existsSync(`/run/burrow-lab/${info.id}`), 'the run folder is gone')
}

/** This process's environment without node:test's marker, so the fixture may run its own test. */
function childEnv (): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.NODE_TEST_CONTEXT
  return env
}

/** Runs the fixture; resolves with its exit status and what the lab it built contained. */
async function runFixture (args: string[], onInfo?: (info: Info, pid: number) => void): Promise<{ code: number | null, signal: NodeJS.Signals | null, info: Info }> {
  const dir = mkdtempSync(join(tmpdir(), 'burrow-lab-teardown-'))
  const infoFile = join(dir, 'info.json')
  try {
    const child = spawn(process.execPath, [...args], { env: { ...childEnv(), BURROW_LAB_INFO: infoFile }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d.toString() })
    child.stderr.on('data', (d: Buffer) => { output += d.toString() })
    const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
      child.on('close', (code, signal) => { resolve({ code, signal }) })
    })
    if (onInfo !== undefined) {
      const info = await until('the fixture to build its lab', async () => existsSync(infoFile) ? JSON.parse(readFileSync(infoFile, 'utf8')) as Info : undefined, 30_000)
      assert.ok(info.pids.every(alive), 'the lab processes run before the failure')
      onInfo(info, child.pid!)
    }
    const { code, signal } = await exited
    assert.ok(existsSync(infoFile), `the fixture built a lab; output: ${output}`)
    return { code, signal, info: JSON.parse(readFileSync(infoFile, 'utf8')) as Info }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('teardown', { skip: skipReason(['miniupnpd', 'iptables', 'gcc']) }, () => {
  it('a test that fails on purpose still tears its lab down (after())', async () => {
    const { code, info } = await runFixture(['--test', '--test-reporter=dot', FIXTURE, 'test'])
    assert.notEqual(code, 0, 'the fixture test failed')
    assertGone(info)
  })

  it('an uncaught error tears the lab down (exit handler)', async () => {
    const { code, info } = await runFixture([FIXTURE, 'throw'])
    assert.notEqual(code, 0)
    assertGone(info)
  })

  it('SIGTERM tears the lab down (signal handler), miniupnpd and the delay element included', async () => {
    const { signal, info } = await runFixture([FIXTURE, 'wait'], (_info, pid) => { process.kill(pid, 'SIGTERM') })
    assert.equal(signal, 'SIGTERM', 'the process still dies of the signal')
    assertGone(info)
  })

  it('SIGINT tears the lab down', async () => {
    const { signal, info } = await runFixture([FIXTURE, 'wait'], (_info, pid) => { process.kill(pid, 'SIGINT') })
    assert.equal(signal, 'SIGINT')
    assertGone(info)
  })

  it('after SIGKILL (no handler runs), the sweeper removes the dead run\'s namespaces and processes', async () => {
    const { signal, info } = await runFixture([FIXTURE, 'wait'], (_info, pid) => { process.kill(pid, 'SIGKILL') })
    assert.equal(signal, 'SIGKILL')
    // left behind, as nothing could run; unless a lab test running in parallel swept it already
    const swept = sweepStaleLabs()
    if (swept.runs.length > 0) assert.ok(swept.runs.includes(info.id) || !listLabNamespaces().some(ns => ns.startsWith(`brw-${info.id}-`)))
    await until('the sleeper to die', async () => alive(info.sleeper) ? undefined : true, 3000)
    assertGone(info)
  })

  it('the sweeper leaves live runs alone', async () => {
    await runFixture([FIXTURE, 'wait'], (info, pid) => {
      sweepStaleLabs()
      assert.ok(listLabNamespaces().some(ns => ns.startsWith(`brw-${info.id}-`)), 'the live run keeps its namespaces')
      assert.ok(info.pids.every(alive), 'and its processes')
      process.kill(pid, 'SIGTERM')
    })
  })
})
