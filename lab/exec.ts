import { spawn, spawnSync } from 'node:child_process'
import { LabCommandError, LabToolMissingError } from './errors.js'
import { COMMAND_TIMEOUT_MS } from './constants.js'
import type { AbortOptions } from '@libp2p/interface'

export interface RunOptions extends AbortOptions {
  /** written to stdin, which is then closed */
  input?: string
  /** kill the command after this long (default COMMAND_TIMEOUT_MS) */
  timeoutMs?: number
  /** resolve with the exit code instead of throwing on non-zero */
  allowFailure?: boolean
  env?: NodeJS.ProcessEnv
}

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a program to completion and collects its output; throws LabCommandError on a non-zero exit. */
export async function run (cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const line = [cmd, ...args].join(' ')
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      signal: options.signal,
      timeout: options.timeoutMs ?? COMMAND_TIMEOUT_MS,
      killSignal: 'SIGKILL'
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    child.stdin.on('error', () => {})
    child.stdin.end(options.input ?? '')
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        reject(new LabToolMissingError(cmd))
      } else {
        reject(err)
      }
    })
    child.on('close', (code, signal) => {
      if (code !== 0 && options.allowFailure !== true) {
        reject(new LabCommandError(line, code, stderr + (signal != null ? ` (killed by ${signal})` : '')))
        return
      }
      resolve({ code, stdout, stderr })
    })
  })
}

/** The synchronous twin of run(), for exit handlers where nothing async runs any more. Never throws. */
export function runSync (cmd: string, args: string[], timeoutMs = 10_000): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] })
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
}

/** Whether a program is on PATH. */
export function hasTool (tool: string): boolean {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' })
  return r.status === 0
}

/** Runs a program inside a network namespace. */
export async function nsRun (ns: string, cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], options)
}
