/**
 * Run bookkeeping: one state file per lab run (`/run/burrow-lab/<id>.json`, holding the
 * owner's PID and start time), process-exit and signal handlers that tear down every live
 * lab of this process, and the sweeper that removes what crashed runs left behind.
 * Nothing here touches a namespace or process whose name lacks the lab prefix.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { LAB_PREFIX, STATE_DIR } from './constants.js'
import { runSync } from './exec.js'

const log = logger('burrow:lab:state')

export interface RunState {
  id: string
  ownerPid: number
  /** start time of the owner in clock ticks since boot (/proc/PID/stat field 22), against PID reuse */
  ownerStart: string
  createdAt: string
}

/** Start time of a process, or undefined when it does not exist. */
export function processStartTime (pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // the command name (field 2) may hold spaces; fields after it are space-separated
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return rest[19]
  } catch {
    return undefined
  }
}

export function writeRunState (id: string): void {
  mkdirSync(STATE_DIR, { recursive: true })
  const state: RunState = {
    id,
    ownerPid: process.pid,
    ownerStart: processStartTime(process.pid) ?? '',
    createdAt: new Date().toISOString()
  }
  writeFileSync(join(STATE_DIR, `${id}.json`), JSON.stringify(state) + '\n')
}

export function removeRunState (id: string): void {
  rmSync(join(STATE_DIR, `${id}.json`), { force: true })
}

function readRunState (id: string): RunState | undefined {
  try {
    return JSON.parse(readFileSync(join(STATE_DIR, `${id}.json`), 'utf8')) as RunState
  } catch {
    return undefined
  }
}

function ownerAlive (state: RunState): boolean {
  const start = processStartTime(state.ownerPid)
  return start !== undefined && (state.ownerStart === '' || start === state.ownerStart)
}

/** Namespaces with the lab prefix, as `ip netns list` shows them. */
export function listLabNamespaces (): string[] {
  const r = runSync('ip', ['netns', 'list'])
  return r.stdout.split('\n')
    .map(line => line.split(' ')[0] ?? '')
    .filter(ns => ns.startsWith(LAB_PREFIX))
}

/** The run id in a lab namespace name: `brw-k3f9-inet` → `k3f9`. */
export function runIdOf (ns: string): string | undefined {
  return ns.slice(LAB_PREFIX.length).split('-')[0]
}

/** PIDs of the processes inside a namespace. */
export function namespacePids (ns: string): number[] {
  return runSync('ip', ['netns', 'pids', ns]).stdout.split('\n')
    .map(s => Number.parseInt(s, 10))
    .filter(n => Number.isInteger(n) && n > 0 && n !== process.pid)
}

function sleepSync (ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/** Whether a process exists and is not a zombie (an exited child its parent has not reaped yet). */
export function processAlive (pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

const alive = processAlive

/**
 * Kills the given PIDs and every process inside the namespaces (SIGTERM, then SIGKILL after
 * graceMs), then deletes the namespaces, which removes their veths and bridges. Synchronous,
 * so it can run from an exit handler.
 */
export function destroySync (namespaces: string[], pids: number[], graceMs: number): void {
  const targets = new Set(pids)
  for (const ns of namespaces) {
    for (const pid of namespacePids(ns)) targets.add(pid)
  }
  for (const pid of targets) {
    try { process.kill(pid, 'SIGTERM') } catch {}
  }
  const deadline = Date.now() + graceMs
  while ([...targets].some(alive) && Date.now() < deadline) sleepSync(50)
  for (const ns of namespaces) {
    for (const pid of namespacePids(ns)) targets.add(pid)
  }
  for (const pid of targets) {
    if (alive(pid)) {
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
  }
  for (const ns of namespaces) {
    const r = runSync('ip', ['netns', 'del', ns])
    if (r.code !== 0) log.error('could not delete namespace %s: %s', ns, r.stderr.trim())
  }
}

export interface SweepResult {
  /** run ids whose leftovers were removed */
  runs: string[]
  namespaces: string[]
}

/**
 * Removes namespaces (and the processes in them) of lab runs whose owner is dead, plus their
 * state files. Namespaces of live runs, and anything without the lab prefix, are left alone.
 */
export function sweepStaleLabs (): SweepResult {
  const byRun = new Map<string, string[]>()
  for (const ns of listLabNamespaces()) {
    const id = runIdOf(ns)
    if (id === undefined || id === '') continue
    byRun.set(id, [...(byRun.get(id) ?? []), ns])
  }
  // state files (<id>.json) and run folders (<id>/: miniupnpd config, leases, homes)
  let stateIds: string[] = []
  try {
    stateIds = readdirSync(STATE_DIR).map(f => f.replace(/\.json$/, '')).filter(id => /^[a-z0-9]+$/.test(id))
  } catch {}
  for (const id of stateIds) {
    if (!byRun.has(id)) byRun.set(id, [])
  }
  const result: SweepResult = { runs: [], namespaces: [] }
  for (const [id, namespaces] of byRun) {
    const state = readRunState(id)
    if (state !== undefined && ownerAlive(state)) continue
    log('sweeping stale lab run %s: %s', id, namespaces.join(' '))
    destroySync(namespaces, [], 1000)
    removeRunState(id)
    rmSync(join(STATE_DIR, id), { recursive: true, force: true })
    result.runs.push(id)
    result.namespaces.push(...namespaces)
  }
  return result
}

/** Something that can tear itself down synchronously when the process exits. */
export interface SyncTeardown {
  teardownSync: () => void
}

const live = new Set<SyncTeardown>()
let installed = false
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

function teardownAll (): void {
  for (const lab of [...live]) {
    try { lab.teardownSync() } catch (err) { log.error('teardown failed: %e', err) }
  }
}

function onSignal (signal: NodeJS.Signals): void {
  teardownAll()
  // leave the rest of the process's shutdown to whoever else listens; else die as the signal would
  process.removeListener(signal, onSignal)
  if (process.listenerCount(signal) === 0) {
    process.kill(process.pid, signal)
  }
}

/** Tears `lab` down on process exit and on SIGINT/SIGTERM/SIGHUP, until unregistered. */
export function registerForExit (lab: SyncTeardown): void {
  live.add(lab)
  if (!installed) {
    installed = true
    process.on('exit', teardownAll)
    for (const s of SIGNALS) process.on(s, onSignal)
  }
}

export function unregisterForExit (lab: SyncTeardown): void {
  live.delete(lab)
  if (live.size === 0 && installed) {
    installed = false
    process.removeListener('exit', teardownAll)
    for (const s of SIGNALS) process.removeListener(s, onSignal)
  }
}
