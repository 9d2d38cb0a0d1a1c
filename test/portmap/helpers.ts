// burrow daemons inside lab namespaces, for the port-mapping lab tests. Every daemon is a
// LabProcess (killed by PID in lab.teardown()); homes are temp dirs removed by cleanupHomes().
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { burrow, burrowJson, CLI } from '../helpers/burrow.ts'
import type { Lab, LabHost, LabProcess } from '../../lab/dist/index.js'
import type { NodeStatus } from '../../dist/node/index.js'
import type { NatReport } from '../../dist/portmap/index.js'

export interface LabDaemon {
  name: string
  host: LabHost
  home: string
  peerId: string
  proc: LabProcess
  startedAt: number
  /** /ip4/<host ip>/tcp/4001/p2p/<id>: dialable for public hosts */
  address: string
}

const homes = new Set<string>()

/**
 * Short intervals so renewals and checks happen within a test. The daemon logs say why a
 * mapping is (not) confirmed: our requests (burrow:nat:dial-back) and AutoNAT v2's own lines,
 * the client's results and the server's refusals and failed dial-backs (libp2p:auto-nat-v2,
 * trace lines stay off), and dials the dial port sends from another port (burrow:holepunch:tcp).
 */
export const FAST_ENV = {
  BURROW_PORT_MAPPING_CHECK_SECONDS: '2',
  BURROW_PORT_MAPPING_LIFETIME_SECONDS: '60',
  DEBUG: 'burrow:portmap*,burrow:nat:dial-back,libp2p:auto-nat-v2*,burrow:holepunch:tcp'
}

export async function startLabDaemon (lab: Lab, host: LabHost, options: { bootstrap?: string[], args?: string[], env?: Record<string, string>, port?: number } = {}): Promise<LabDaemon> {
  const home = await mkdtemp(join(tmpdir(), `burrow-portmap-${host.name}-`))
  homes.add(home)
  const id = await burrow(home, ['id'])
  const peerId = id.stdout.trim().split('\n').pop() ?? ''
  const port = options.port ?? 4001
  const args = [CLI, '--home', home, 'daemon', '--network', 'lab', '--listen', `/ip4/0.0.0.0/tcp/${port}`]
  for (const b of options.bootstrap ?? []) args.push('--bootstrap', b)
  args.push(...(options.args ?? []))
  const startedAt = Date.now()
  const proc = await lab.spawn(host, process.execPath, args, { logName: `burrow-${host.name}`, env: { ...process.env, ...FAST_ENV, ...options.env } })
  await proc.waitForOutput(/^ready$/m, 30_000)
  return { name: host.name, host, home, peerId, proc, startedAt, address: `/ip4/${host.ip}/tcp/${port}/p2p/${peerId}` }
}

export async function status (d: LabDaemon): Promise<NodeStatus> {
  return burrowJson<NodeStatus>(d.home, ['status'])
}

export async function nat (d: LabDaemon): Promise<NatReport> {
  return burrowJson<NatReport>(d.home, ['nat'])
}

export async function cleanupHomes (): Promise<void> {
  await Promise.all([...homes].map(async h => rm(h, { recursive: true, force: true })))
  homes.clear()
}

/** Polls until fn returns a value (not undefined/false); returns it with the time waited. */
export async function waitUntil<T> (what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, intervalMs = 250): Promise<{ value: T, ms: number }> {
  const started = Date.now()
  let last: unknown
  while (Date.now() - started < timeoutMs) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return { value: v, ms: Date.now() - started }
    } catch (err) {
      last = err
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last != null ? ` (last error: ${String(last)})` : ''}`)
}

/** Whether a plain TCP connection from `from` to ip:port opens (the forward works from there). */
export async function tcpOpens (lab: Lab, from: LabHost, ip: string, port: number): Promise<boolean> {
  const script = `const s=require('net').connect(${port},'${ip}');s.setTimeout(1500);s.on('connect',()=>{console.log('open');process.exit(0)});s.on('timeout',()=>process.exit(1));s.on('error',()=>process.exit(1))`
  const r = await lab.exec(from, process.execPath, ['-e', script], { allowFailure: true, timeoutMs: 5000 })
  return r.code === 0
}

/** `burrow dial TARGET --json` from a daemon. */
export async function dial (d: LabDaemon, target: string): Promise<{ peerId: string, remoteAddress: string, direct: boolean, durationMs: number }> {
  return burrowJson(d.home, ['dial', target])
}

/** `burrow peers --json`. */
export async function peers (d: LabDaemon): Promise<Array<{ peerId: string, remoteAddress: string, direct: boolean, direction: string }>> {
  return burrowJson(d.home, ['peers'])
}
