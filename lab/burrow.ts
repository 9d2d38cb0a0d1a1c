/**
 * Real `burrow daemon` processes in lab hosts: each with its own home dir (identity, config,
 * datastore, control socket), started with `ip netns exec` so it sees only its host's network,
 * and driven through the real CLI (`burrow status --json`, `find`, `dial`, `send`).
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { TimeoutError } from 'burrow'
import { packageRoot } from './delay.js'
import { LabNodeError } from './errors.js'
import type { RunOptions, RunResult } from './exec.js'
import type { LabProcess } from './process.js'
import type { Lab, LabHost } from './topology.js'
import type { NodeStatus } from 'burrow'

const log = logger('burrow:lab:burrow')

/** The daemon's listen port in the lab (the default burrow port). */
export const LAB_BURROW_PORT = 4001
/** How long a daemon may take from spawn to answering `status`. */
export const BURROW_START_TIMEOUT_MS = 20_000

export interface BurrowInit {
  /** home dir; default `<lab run dir>/<host>-home` (removed with the lab) */
  home?: string
  /** `--listen` addresses; default `/ip4/0.0.0.0/tcp/4001` */
  listen?: string[]
  /** `--bootstrap` addresses; default none (the node starts its own network) */
  bootstrap?: string[]
  /** `--network`; default `lab` */
  network?: string
  /** more daemon flags, e.g. `['--relay-server', 'on']` */
  args?: string[]
  /** extra environment, e.g. `{ DEBUG: 'burrow:*' }` */
  env?: NodeJS.ProcessEnv
  /** log file name; default `burrow-<host>` */
  logName?: string
}

/** Path of the CLI entry point the lab runs (the compiled one). */
export function burrowCliPath (): string {
  const cli = join(packageRoot(), 'dist', 'cli', 'index.js')
  if (!existsSync(cli)) throw new LabNodeError(`${cli} is missing: build burrow first (npm run build)`)
  return cli
}

/** A burrow daemon running in a lab host. */
export class BurrowNode {
  readonly lab: Lab
  readonly host: LabHost
  readonly home: string
  readonly process: LabProcess
  /** set once the daemon answered `status` */
  peerId = ''

  constructor (lab: Lab, host: LabHost, home: string, proc: LabProcess) {
    this.lab = lab
    this.host = host
    this.home = home
    this.process = proc
  }

  /** The address others bootstrap from or dial: `/ip4/<host ip>/tcp/4001/p2p/<peerId>`. */
  get multiaddr (): string {
    return `/ip4/${this.host.ip}/tcp/${LAB_BURROW_PORT}/p2p/${this.peerId}`
  }

  /** Runs `burrow --home HOME <args>` in the node's host namespace. */
  async cli (args: string[], options: RunOptions = {}): Promise<RunResult> {
    return this.lab.exec(this.host, process.execPath, [burrowCliPath(), '--home', this.home, ...args], options)
  }

  /** Runs a CLI command with `--json` and parses its output; throws LabNodeError with the command's own one-line error. */
  async cliJson<T> (args: string[], options: RunOptions = {}): Promise<T> {
    const r = await this.cli([...args, '--json'], { ...options, allowFailure: true })
    if (r.code !== 0) {
      throw new LabNodeError(`burrow ${args[0] ?? ''} on ${this.host.name}: ${(r.stderr.trim().split('\n')[0] ?? '') || `exit ${r.code}`}`)
    }
    try {
      return JSON.parse(r.stdout) as T
    } catch (err) {
      throw new LabNodeError(`burrow ${args[0] ?? ''} on ${this.host.name} printed no JSON: ${r.stdout.slice(0, 200)}`, { cause: err })
    }
  }

  /** `burrow status --json`. */
  async status (options: RunOptions = {}): Promise<NodeStatus> {
    return this.cliJson<NodeStatus>(['status'], { timeoutMs: 10_000, ...options })
  }

  /**
   * Polls `status` until `predicate` holds; resolves with that status. Rejects with
   * TimeoutError (naming `what` and the last status error, if any) after timeoutMs, or when
   * the daemon exits.
   */
  async waitForStatus (predicate: (s: NodeStatus) => boolean, timeoutMs: number, what = 'the awaited status', intervalMs = 250): Promise<NodeStatus> {
    const deadline = Date.now() + timeoutMs
    let last = ''
    for (;;) {
      if (!this.process.running) {
        throw new LabNodeError(`burrow on ${this.host.name} exited (${String(await this.process.exited)}) while waiting for ${what}; log: ${this.process.logFile}`)
      }
      try {
        const s = await this.status({ timeoutMs: Math.max(1000, Math.min(10_000, deadline - Date.now())) })
        if (predicate(s)) return s
        last = ''
      } catch (err) {
        last = err instanceof Error ? err.message : String(err)
      }
      if (Date.now() >= deadline) {
        throw new TimeoutError(`burrow on ${this.host.name}: no ${what} within ${timeoutMs} ms${last !== '' ? ` (last error: ${last})` : ''}`)
      }
      await new Promise(resolve => setTimeout(resolve, intervalMs))
    }
  }

  /** SIGTERM (the daemon deletes mappings, drops reservations), SIGKILL after graceMs. */
  async stop (graceMs?: number): Promise<void> {
    await this.process.stop(graceMs)
  }
}

/** Starts `burrow daemon` in `host` and waits until it answers `status`. */
export async function startBurrow (lab: Lab, host: LabHost, init: BurrowInit = {}): Promise<BurrowNode> {
  const home = init.home ?? join(lab.runDir, `${host.name}-home`)
  mkdirSync(home, { recursive: true, mode: 0o700 })
  const args = [burrowCliPath(), '--home', home, 'daemon', '--network', init.network ?? 'lab']
  for (const l of init.listen ?? [`/ip4/0.0.0.0/tcp/${LAB_BURROW_PORT}`]) args.push('--listen', l)
  for (const b of init.bootstrap ?? []) args.push('--bootstrap', b)
  args.push(...(init.args ?? []))
  const proc = await lab.spawn(host, process.execPath, args, {
    logName: init.logName ?? `burrow-${host.name}`,
    env: { ...process.env, ...init.env }
  })
  const node = new BurrowNode(lab, host, home, proc)
  const status = await node.waitForStatus(() => true, BURROW_START_TIMEOUT_MS, 'answer to status')
  node.peerId = status.peerId
  log('burrow on %s: %s', host.name, status.peerId)
  return node
}
