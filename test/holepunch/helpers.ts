// Shared by the hole punching lab tests.
import { mkdtempSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startBurrow } from '../../lab/dist/index.js'
import type { Lab, LabHost } from '../../lab/dist/index.js'

export type LabNode = Awaited<ReturnType<typeof startBurrow>>

export interface Status {
  peerId: string
  reachability: string
  reachabilitySource: string
  reachabilityReason: string
  nat: { mapping: string }
  reservations: Array<{ relay: string }>
  connections: Array<{ peerId: string, direct: boolean, remoteAddress: string, whyRelayed?: string }>
  holePunch: { dialPort: number, attempts: Array<{ peer: string, outcome: string, attempt: number, detail: string }> }
  rendezvous: { providedAt: string | null }
}

/** A private node as tests want it: relays from `bootstrap`, a DHT client (as NATed nodes end up). */
export async function startPeer (lab: Lab, host: LabHost, bootstrap: string[], name: string, args: string[] = []): Promise<LabNode> {
  const home = mkdtempSync(join(lab.runDir, `${name}-`))
  // TCP DCUtR alone unless a test says otherwise (a later --punch wins): `--punch auto` races the
  // UDX punch, which wins between burrow peers, and these tests are about DCUtR
  return startBurrow(lab, host, { home, bootstrap, logName: `${name}-${home.slice(-6)}`, args: ['--dht-mode', 'client', '--punch', 'tcp', ...args], env: debugEnv() })
}

/**
 * Waits until a private node holds `n` reservations and has announced its rendezvous record.
 * 90 s: a node whose first ping to the lab's only DHT server stalls has that server in its
 * routing table 5–10 s later (src/swarm/dht-mode.ts, refill), and a provide that ran into
 * the empty table ends within RENDEZVOUS_PROVIDE_TIMEOUT_MS (60 s) and is tried again.
 */
export async function waitReachableByPeerId (node: LabNode, n = 1, timeoutMs = 90_000): Promise<Status> {
  return node.waitForStatus((s) => {
    const st = s as unknown as Status
    return st.reservations.length >= n && st.rendezvous.providedAt != null
  }, timeoutMs, `${n} reservation(s) and a rendezvous record`) as unknown as Promise<Status>
}

export async function statusOf (node: LabNode): Promise<Status> {
  return node.status() as unknown as Promise<Status>
}

/** `burrow send` as JSON: which path the ack came back over. */
export async function send (from: LabNode, to: string, text: string): Promise<{ via: string }> {
  return from.cliJson<{ via: string }>(['send', to, text], { timeoutMs: 60_000 })
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** BURROW_TEST_DEBUG=burrow:* puts the daemons' debug logs into the lab's log folder. */
export function debugEnv (): Record<string, string> {
  const d = process.env.BURROW_TEST_DEBUG
  return d != null && d !== '' ? { DEBUG: d } : {}
}

export interface Attempt { peer: string, role: string, attempt: number, outcome: string, detail: string, handshake: string, upgrade?: string, phases?: Record<string, number | null> }
export type SpecEvent = Record<string, unknown> & { event: string }

export interface SpecProc {
  peerId: string
  events: () => SpecEvent[]
  waitFor: (pred: (e: SpecEvent) => boolean, timeoutMs: number, what: string) => Promise<SpecEvent>
  stop: () => Promise<void>
}

const SPEC_PEER = join(dirname(fileURLToPath(import.meta.url)), 'spec-peer.ts')
let nextPort = 20000 + Math.floor(Math.random() * 20000)

/** Starts spec-peer.ts in a lab host (a fresh dial port unless `--dial-port` is given) and waits for its 'ready' event. */
export async function startSpec (lab: Lab, host: LabHost, name: string, flags: string[]): Promise<SpecProc> {
  const port = flags.includes('--dial-port') ? [] : ['--dial-port', String(nextPort++)]
  const proc = await host.spawn(process.execPath, [SPEC_PEER, ...port, ...flags], { logName: `${name}-${nextPort}`, env: { ...process.env, ...debugEnv() } })
  const events = (): SpecEvent[] => proc.recentOutput.split('\n').filter(l => l.startsWith('{')).map(l => { try { return JSON.parse(l) as SpecEvent } catch { return { event: 'bad' } } })
  const waitFor = async (pred: (e: SpecEvent) => boolean, timeoutMs: number, what: string): Promise<SpecEvent> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const e = events().find(pred)
      if (e != null) return e
      if (!proc.running) throw new Error(`${name} exited before ${what}; log ${proc.logFile}`)
      if (Date.now() > deadline) throw new Error(`${name}: no ${what} within ${timeoutMs} ms; events: ${JSON.stringify(events()).slice(-1500)}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
  const ready = await waitFor(e => e.event === 'ready', 30_000, 'ready')
  return { peerId: String(ready.peerId), events, waitFor, stop: async () => { await proc.stop(2_000) } }
}
