// Install path (b): `npm pack`, then `npm install -g` of the tarball into a temporary prefix,
// as a user of the published package would. With Node 22 first on PATH the installed
// `burrow` prints its version and runs a daemon (own swarm, loopback only, no bootstrap peer,
// no port mapping: it contacts nothing); with only an older Node on PATH it says in one coded
// line how to get Node 22 and exits non-zero, without advising `npm install` inside the
// global folder. npm reaches the npm registry for the dependencies (prefers its cache).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { ROOT } from '../helpers/burrow.ts'

interface Run { code: number, stdout: string, stderr: string }

/** Runs a command to completion with its own env; never throws. */
async function run (cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 300_000): Promise<Run> {
  return new Promise(resolve => {
    execFile(cmd, args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err == null ? 0 : (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1)
      resolve({ code, stdout, stderr })
    })
  })
}

/** `which` over PATH, for the npm that runs the install. */
function which (name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name)
    if (dir !== '' && existsSync(p)) return p
  }
  return undefined
}

/** An installed Node older than 22, to play a user's older machine (Debian's /usr/bin/node is 20 here). */
function oldNode (): string | undefined {
  for (const p of ['/usr/bin/node', '/usr/local/bin/node']) {
    if (!existsSync(p)) continue
    try {
      const v = execFileSync(p, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()
      if (Number(v.split('.')[0]) < 22) return p
    } catch {}
  }
  return undefined
}

const npm = which('npm')
const skip = npm === undefined ? 'npm is not on PATH' : undefined
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

describe('npm pack + npm install -g of the tarball', { skip, timeout: 900_000 }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'burrow-pkg-install-'))
  const prefix = join(tmp, 'prefix')
  const node22Dir = join(tmp, 'node22')
  const oldDir = join(tmp, 'oldnode')
  let installed: Run | undefined
  const pids: number[] = []

  /**
   * This environment (its CA settings included) without what `npm test` adds (npm_* variables,
   * node_modules/.bin on PATH), with PATH holding only the chosen Node, npm and the system's basics.
   */
  const envWith = (nodeDir: string): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = {}
    for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && !/^BURROW_/.test(k)) env[k] = v
    env.PATH = [join(prefix, 'bin'), nodeDir, dirname(npm!), '/usr/local/sbin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(delimiter)
    env.npm_config_update_notifier = 'false'
    env.npm_config_fund = 'false'
    env.npm_config_audit = 'false'
    return env
  }

  before(async () => {
    mkdirSync(node22Dir)
    mkdirSync(oldDir)
    symlinkSync(process.execPath, join(node22Dir, 'node'))
    const pack = await run(npm!, ['pack', '--ignore-scripts', '--pack-destination', tmp, ROOT], envWith(node22Dir))
    assert.equal(pack.code, 0, `npm pack failed: ${pack.stderr}`)
    const tarball = readdirSync(tmp).find(f => f.endsWith('.tgz'))
    assert.ok(tarball !== undefined, 'npm pack made no tarball')
    // what a user types (the README's Install section); --prefer-offline only saves traffic
    installed = await run(npm!, ['install', '-g', '--prefix', prefix, '--prefer-offline', join(tmp, tarball)], envWith(node22Dir))
  })

  after(() => {
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
    rmSync(tmp, { recursive: true, force: true })
  })

  it('installs with Node 22 and `burrow --version` prints the version', async () => {
    assert.equal(installed?.code, 0, `npm install -g failed: ${installed?.stdout.slice(-2000)}${installed?.stderr.slice(-2000)}`)
    const r = await run(join(prefix, 'bin', 'burrow'), ['--version'], envWith(node22Dir), 30_000)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trim(), VERSION)
    assert.ok(existsSync(join(prefix, 'lib', 'node_modules', 'burrow', 'contrib', 'systemd', 'burrow.service')), 'the package ships the systemd unit')
  })

  it('the installed daemon starts (own swarm, loopback, no bootstrap peer) and `burrow status` answers', async () => {
    assert.equal(installed?.code, 0, 'the install failed')
    const home = join(tmp, 'home')
    const env = envWith(node22Dir)
    const child = spawn(join(prefix, 'bin', 'burrow'), ['--home', home, 'daemon', '--network', 'pkg-install-test',
      '--listen', '/ip4/127.0.0.1/tcp/0', '--port-mapping', 'off'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    if (child.pid !== undefined) pids.push(child.pid)
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const exited = new Promise<number | null>(resolve => child.on('exit', resolve))
    try {
      const deadline = Date.now() + 120_000
      while (!/^ready$/m.test(out)) {
        assert.ok(child.exitCode === null, `the daemon exited ${child.exitCode}:\n${out}`)
        assert.ok(Date.now() < deadline, `the daemon printed no "ready" line:\n${out}`)
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      const peerId = /^PeerId: (\S+)$/m.exec(out)?.[1]
      assert.ok(peerId !== undefined, out)
      const s = await run(join(prefix, 'bin', 'burrow'), ['--home', home, 'status', '--json'], env, 60_000)
      assert.equal(s.code, 0, s.stderr)
      assert.equal((JSON.parse(s.stdout) as { peerId: string }).peerId, peerId)
    } finally {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
  })

  it('with only an older Node on PATH: one coded line naming Node 22, non-zero exit, no npm advice', async (t) => {
    assert.equal(installed?.code, 0, 'the install failed')
    const old = oldNode()
    if (old === undefined) { t.skip('no Node older than 22 installed at /usr/bin/node or /usr/local/bin/node'); return }
    symlinkSync(old, join(oldDir, 'node'))
    const env = envWith(oldDir)
    env.PATH = [join(prefix, 'bin'), oldDir, '/usr/local/sbin', '/usr/sbin', '/sbin', '/bin'].join(delimiter)
    const r = await run(join(prefix, 'bin', 'burrow'), ['--version'], env, 30_000)
    assert.notEqual(r.code, 0, 'exits non-zero')
    assert.equal(r.stdout, '')
    const lines = r.stderr.trim().split('\n')
    assert.equal(lines.length, 1, `one line: ${r.stderr}`)
    assert.match(lines[0]!, /^burrow: ERR_NODE_TOO_OLD: Node 2\d\.\S+ .*Node 22/)
    assert.doesNotMatch(lines[0]!, /npm (install|i)\b/, 'no advice to run npm inside the global folder')
  })
})
