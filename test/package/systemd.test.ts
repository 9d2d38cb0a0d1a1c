// Install path (d): contrib/systemd/burrow.service. `systemd-analyze verify` checks it as
// systemd would load it (every key known, ExecStart executable, dependencies found): it runs
// against a temporary root holding the system's unit files and a stand-in /usr/local/bin/burrow,
// so nothing is installed on this machine. `systemd-analyze security --offline` scores its
// sandbox. No systemd needs to be running.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from '../helpers/burrow.ts'

const UNIT = join(ROOT, 'contrib', 'systemd', 'burrow.service')
const SYSTEM_UNITS = ['/usr/lib/systemd/system', '/lib/systemd/system'].find(d => existsSync(join(d, 'multi-user.target')))

function skipReason (): string | undefined {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'pipe' })
  } catch {
    return 'systemd-analyze is not installed (.ci/run installs systemd)'
  }
  if (SYSTEM_UNITS === undefined) return 'no system unit folder with multi-user.target'
  return undefined
}

async function analyze (args: string[]): Promise<{ code: number, out: string }> {
  return new Promise(resolve => {
    execFile('systemd-analyze', args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err == null ? 0 : (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1)
      resolve({ code, out: stdout + stderr })
    })
  })
}

describe('the systemd unit', { skip: skipReason() }, () => {
  let root: string

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'burrow-systemd-'))
    mkdirSync(join(root, 'usr', 'lib', 'systemd'), { recursive: true })
    cpSync(SYSTEM_UNITS!, join(root, 'usr', 'lib', 'systemd', 'system'), { recursive: true })
    mkdirSync(join(root, 'etc', 'systemd', 'system'), { recursive: true })
    copyFileSync(UNIT, join(root, 'etc', 'systemd', 'system', 'burrow.service'))
    mkdirSync(join(root, 'usr', 'local', 'bin'), { recursive: true })
    writeFileSync(join(root, 'usr', 'local', 'bin', 'burrow'), '#!/bin/sh\n')
    chmodSync(join(root, 'usr', 'local', 'bin', 'burrow'), 0o755)
  })

  after(() => {
    if (root !== undefined) rmSync(root, { recursive: true, force: true })
  })

  it('passes `systemd-analyze verify` with no warning', async () => {
    const r = await analyze(['verify', `--root=${root}`, join(root, 'etc', 'systemd', 'system', 'burrow.service')])
    assert.equal(r.code, 0, r.out)
    assert.equal(r.out.trim(), '', 'no warning (unknown keys, bad values, missing units)')
  })

  it('runs as a dynamic user with its state in StateDirectory, and scores at most 2.0 in `systemd-analyze security`', async () => {
    const unit = readFileSync(UNIT, 'utf8')
    assert.match(unit, /^DynamicUser=yes$/m)
    assert.match(unit, /^StateDirectory=burrow$/m)
    assert.match(unit, /^Environment=BURROW_HOME=%S\/burrow$/m, 'the daemon keeps its home in the state directory')
    const r = await analyze(['security', '--offline=true', '--no-pager', UNIT])
    const level = /Overall exposure level for burrow\.service: (\d+(?:\.\d+)?)/.exec(r.out)?.[1]
    assert.ok(level !== undefined, r.out)
    assert.ok(Number(level) <= 2.0, `exposure ${level}:\n${r.out}`)
  })
})
