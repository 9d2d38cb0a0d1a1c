// Shared by the hole punching lab tests.
import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { startBurrow } from '../../dist/lab/index.js'
import type { Lab, LabHost } from '../../dist/lab/index.js'

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
  return startBurrow(lab, host, { home, bootstrap, logName: `${name}-${home.slice(-6)}`, args: ['--dht-mode', 'client', ...args], env: debugEnv() })
}

/** Waits until a private node holds `n` reservations and has announced its rendezvous record. */
export async function waitReachableByPeerId (node: LabNode, n = 1, timeoutMs = 30_000): Promise<Status> {
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
