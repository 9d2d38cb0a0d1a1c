/**
 * Child processes of a benchmark run: helper scripts under bench/peers/ run with this
 * process's Node, on loopback or inside a lab namespace. A helper reports on stdout in lines
 * `@bench {json}`; everything else it prints is kept for error messages. Every child is
 * tracked by PID and killed by PID (SIGTERM, then SIGKILL) when the run ends, also on errors.
 */
import { spawn, execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import type { Lab, LabHost } from '../lab/dist/index.js'

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url))
export const ROOT = join(BENCH_DIR, '..')
export const CLI = join(ROOT, 'dist', 'cli', 'index.js')
const MARK = '@bench '

/** Path of a helper script in bench/peers/ (`.ts`, or `.js` where the name says so). */
export function peerScript (name: string): string {
  return join(BENCH_DIR, 'peers', name.endsWith('.js') ? name : `${name}.ts`)
}

/** Writes one report line (used by the helpers). */
export function report (obj: Record<string, unknown>): void {
  process.stdout.write(`${MARK}${JSON.stringify(obj)}\n`)
}

/** The report lines in a chunk of output. */
export function parseReports (out: string): Array<Record<string, unknown>> {
  const found: Array<Record<string, unknown>> = []
  for (const line of out.split('\n')) {
    if (line.startsWith(MARK)) found.push(JSON.parse(line.slice(MARK.length)) as Record<string, unknown>)
  }
  return found
}

const children = new Set<ChildProcess>()

function killTree (child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try { process.kill(child.pid, 'SIGKILL') } catch {}
}

process.on('exit', () => { for (const c of children) killTree(c) })

/** A long-running helper (a server); stop() kills it by PID. */
export class Helper {
  readonly name: string
  readonly child: ChildProcess
  readonly exited: Promise<number | string>
  private out = ''
  private readonly waiters = new Set<() => void>()
  private readonly stopper: () => Promise<void>

  constructor (name: string, child: ChildProcess, stopper?: () => Promise<void>) {
    this.name = name
    this.child = child
    children.add(child)
    const onData = (d: Buffer): void => {
      this.out = (this.out + d.toString('utf8')).slice(-1_000_000)
      for (const w of this.waiters) w()
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    this.exited = new Promise(resolve => {
      child.on('close', (code, signal) => {
        children.delete(child)
        for (const w of this.waiters) w()
        resolve(code ?? signal ?? 'unknown')
      })
    })
    this.stopper = stopper ?? (async () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
      try { process.kill(child.pid, 'SIGTERM') } catch {}
      const t = setTimeout(() => { killTree(child) }, 3000)
      await this.exited
      clearTimeout(t)
    })
  }

  get pid (): number {
    return this.child.pid ?? -1
  }

  get output (): string {
    return this.out
  }

  get running (): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** The next report of type `type` (counting from the start of the output, `skip` earlier ones). */
  async report<T = Record<string, unknown>> (type: string, timeoutMs: number, skip = 0): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = parseReports(this.out).filter(r => r.type === type)
        const hit = found[skip]
        if (hit !== undefined) {
          done()
          resolve(hit as T)
        } else if (!this.running) {
          done()
          reject(new Error(`${this.name} exited before reporting ${type}: ${this.tail()}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`${this.name} did not report ${type} within ${timeoutMs} ms: ${this.tail()}`))
      }, timeoutMs)
      const done = (): void => {
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      this.waiters.add(check)
      check()
    })
  }

  tail (): string {
    return this.out.split('\n').filter(l => !l.startsWith(MARK)).slice(-8).join(' | ').slice(-800)
  }

  async stop (): Promise<void> {
    await this.stopper()
  }
}

export interface HelperOptions {
  /** run inside this lab host's namespace */
  lab?: { lab: Lab, host: LabHost }
  env?: NodeJS.ProcessEnv
  /** extra Node flags, e.g. --expose-gc */
  nodeArgs?: string[]
}

/** Starts bench/peers/<script>.ts with args. */
export async function startHelper (script: string, args: string[], options: HelperOptions = {}): Promise<Helper> {
  const argv = [...(options.nodeArgs ?? []), peerScript(script), ...args]
  const env = { ...process.env, ...options.env }
  if (options.lab !== undefined) {
    const proc = await options.lab.lab.spawn(options.lab.host, process.execPath, argv, { logName: `bench-${script}-${options.lab.host.name}`, env })
    return new Helper(`${script}@${options.lab.host.name}`, proc.child, async () => { await proc.stop(3000) })
  }
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env })
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => { resolve() })
    child.once('error', reject)
  })
  return new Helper(script, child)
}

/** Runs a one-shot helper to completion and returns its reports (throws on a non-zero exit). */
export async function runHelper (script: string, args: string[], options: HelperOptions & { timeoutMs: number }): Promise<Array<Record<string, unknown>>> {
  const argv = [...(options.nodeArgs ?? []), peerScript(script), ...args]
  const env = { ...process.env, ...options.env }
  if (options.lab !== undefined) {
    const r = await options.lab.lab.exec(options.lab.host, process.execPath, argv, { timeoutMs: options.timeoutMs, allowFailure: true, env })
    if (r.code !== 0) throw new Error(`${script}@${options.lab.host.name} exited ${String(r.code)}: ${lastLines(r.stderr + r.stdout)}`)
    return parseReports(r.stdout)
  }
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, argv, { env, timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      children.delete(child)
      if (err != null) {
        reject(new Error(`${script} failed (${err.message.split('\n')[0] ?? ''}): ${lastLines(stderr + stdout)}`))
        return
      }
      resolve(parseReports(stdout))
    })
    children.add(child)
  })
}

function lastLines (s: string): string {
  return s.split('\n').filter(l => l.trim() !== '' && !l.startsWith(MARK)).slice(-6).join(' | ').slice(-800)
}

/** Kills every helper still running (by PID). */
export async function stopAllHelpers (): Promise<void> {
  for (const c of children) killTree(c)
}

export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason) }, { once: true })
  })
}
