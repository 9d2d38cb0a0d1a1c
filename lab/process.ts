import { spawn } from 'node:child_process'
import { createWriteStream, type WriteStream } from 'node:fs'
import { once } from 'node:events'
import { logger } from '@libp2p/logger'
import { KILL_GRACE_MS } from './constants.js'
import type { ChildProcess } from 'node:child_process'

const log = logger('burrow:lab:process')

export interface SpawnOptions {
  /** name of the log file (`<logName>.log` in the run's log folder); default: the command's name */
  logName?: string
  env?: NodeJS.ProcessEnv
  cwd?: string
}

/** A process the lab started inside a namespace; its stdout and stderr go to `logFile`. */
export class LabProcess {
  readonly name: string
  readonly pid: number
  readonly logFile: string
  readonly child: ChildProcess
  /** resolves with the exit code (or the signal's name) once the process is gone */
  readonly exited: Promise<number | string>
  private exitValue: number | string | undefined
  private output = ''
  private readonly waiters = new Set<() => void>()

  constructor (name: string, child: ChildProcess, logFile: string, stream: WriteStream) {
    if (child.pid === undefined) throw new Error(`${name} did not start`)
    this.name = name
    this.pid = child.pid
    this.child = child
    this.logFile = logFile
    const onData = (d: Buffer): void => {
      stream.write(d)
      // keep the last 64 KiB in memory for waitForOutput()
      this.output = (this.output + d.toString('utf8')).slice(-65536)
      for (const w of this.waiters) w()
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    this.exited = new Promise(resolve => {
      child.on('close', (code, signal) => {
        this.exitValue = code ?? signal ?? 'unknown'
        stream.end()
        log('%s (pid %d) exited: %s', name, this.pid, this.exitValue)
        for (const w of this.waiters) w()
        resolve(this.exitValue)
      })
    })
  }

  get running (): boolean {
    return this.exitValue === undefined
  }

  /** What the process wrote so far (stdout and stderr interleaved, last 64 KiB). */
  get recentOutput (): string {
    return this.output
  }

  /** Resolves with the first match of `pattern` in the output; rejects when the process exits or time runs out. */
  async waitForOutput (pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const m = this.output.match(pattern)
        if (m != null) {
          done()
          resolve(m)
        } else if (!this.running) {
          done()
          reject(new Error(`${this.name} exited (${String(this.exitValue)}) before printing ${String(pattern)}; log: ${this.logFile}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`${this.name} did not print ${String(pattern)} within ${timeoutMs} ms; log: ${this.logFile}`))
      }, timeoutMs)
      const done = (): void => {
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      this.waiters.add(check)
      check()
    })
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
  async stop (graceMs = KILL_GRACE_MS): Promise<void> {
    if (!this.running) return
    try { process.kill(this.pid, 'SIGTERM') } catch {}
    const timer = setTimeout(() => {
      try { process.kill(this.pid, 'SIGKILL') } catch {}
    }, graceMs)
    await this.exited
    clearTimeout(timer)
  }

  /** Sends a signal by PID (the only way the lab ever kills anything). */
  signal (signal: NodeJS.Signals): void {
    if (this.running) {
      try { process.kill(this.pid, signal) } catch {}
    }
  }
}

/** Starts `cmd args` in namespace `ns` (via `ip netns exec`, which execs, so the PID is the program's own). */
export async function spawnInNamespace (ns: string, cmd: string, args: string[], logFile: string, name: string, options: SpawnOptions = {}): Promise<LabProcess> {
  const stream = createWriteStream(logFile, { flags: 'a' })
  await once(stream, 'open')
  stream.write(`# ${new Date().toISOString()} ip netns exec ${ns} ${cmd} ${args.join(' ')}\n`)
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd
  })
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => { resolve() })
    child.once('error', reject)
  })
  log('started %s in %s: pid %d', name, ns, child.pid)
  return new LabProcess(name, child, logFile, stream)
}
