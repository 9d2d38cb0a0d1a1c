/**
 * Runs the real burrow binary (dist/cli/index.js) for tests: daemons in temp home
 * dirs on loopback, and CLI commands against them. Every daemon a test starts is
 * killed by PID in stopAll(), also when the test fails.
 */
import { spawn, execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CLI = join(ROOT, 'dist', 'cli', 'index.js')

export interface CliResult { code: number, stdout: string, stderr: string }

/** Runs `burrow --home HOME ...args` to completion. */
export async function burrow (home: string, args: string[], options: { input?: string, timeoutMs?: number, env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, '--home', home, ...args], {
      timeout: options.timeoutMs ?? 60_000,
      env: { ...process.env, ...options.env },
      maxBuffer: 64 * 1024 * 1024
    }, (err, stdout, stderr) => {
      const code = err == null ? 0 : (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1)
      resolve({ code, stdout, stderr })
    })
    if (options.input != null) child.stdin?.end(options.input)
    else child.stdin?.end()
  })
}

export async function burrowJson<T = unknown> (home: string, args: string[]): Promise<T> {
  const r = await burrow(home, [...args, '--json'])
  if (r.code !== 0) throw new Error(`burrow ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`)
  return JSON.parse(r.stdout) as T
}

export async function tempHome (label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `burrow-test-${label}-`))
}

export interface Daemon {
  home: string
  peerId: string
  child: ChildProcess
  output: () => string
  /** the first loopback address with /p2p/PEERID, for --bootstrap */
  address: string
  exited: Promise<number | null>
}

const running = new Set<ChildProcess>()
const homes = new Set<string>()

/**
 * Starts `burrow daemon` on a random loopback port in its own network `test`, and
 * waits for its "ready" line.
 */
export async function startDaemon (label: string, options: { home?: string, bootstrap?: string[], args?: string[], env?: NodeJS.ProcessEnv } = {}): Promise<Daemon> {
  const home = options.home ?? await tempHome(label)
  homes.add(home)
  const args = [CLI, '--home', home, 'daemon', '--network', 'test', '--listen', '/ip4/127.0.0.1/tcp/0']
  for (const b of options.bootstrap ?? []) args.push('--bootstrap', b)
  args.push(...(options.args ?? []))
  const child = spawn(process.execPath, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  let out = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<number | null>(resolve => {
    child.on('exit', (code) => { running.delete(child); resolve(code) })
  })
  const deadline = Date.now() + 30_000
  while (!/^ready$/m.test(out)) {
    if (child.exitCode != null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`daemon ${label} did not become ready:\n${out}`)
    }
    await sleep(50)
  }
  const peerId = /^PeerId: (\S+)$/m.exec(out)?.[1]
  if (peerId == null) throw new Error(`daemon ${label} printed no PeerId:\n${out}`)
  const status = await burrowJson<{ addresses: { announced: string[] } }>(home, ['status'])
  const address = status.addresses.announced.find(a => a.startsWith('/ip4/127.0.0.1/')) ?? ''
  return { home, peerId, child, output: () => out, address, exited }
}

/** SIGTERM, and SIGKILL after a grace period; resolves with the exit code. */
export async function stopDaemon (d: Daemon, graceMs = 5000): Promise<number | null> {
  if (d.child.exitCode != null || d.child.signalCode != null) return d.child.exitCode
  d.child.kill('SIGTERM')
  const timer = setTimeout(() => { d.child.kill('SIGKILL') }, graceMs)
  const code = await d.exited
  clearTimeout(timer)
  return code
}

/** Kills every daemon still running (by PID) and removes the temp homes. */
export async function stopAll (): Promise<void> {
  for (const child of running) child.kill('SIGKILL')
  await Promise.all([...running].map(async c => new Promise(resolve => { if (c.exitCode != null) resolve(null); else c.on('exit', resolve) })))
  await Promise.all([...homes].map(async h => rm(h, { recursive: true, force: true })))
  homes.clear()
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Polls `fn` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T> (what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const v = await fn()
      if (v != null && v !== false) return v
    } catch (err) {
      last = err
    }
    await sleep(intervalMs)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last != null ? ` (last error: ${String(last)})` : ''}`)
}
