/**
 * Shared by the UDX lab tests with daemons: a stock js-libp2p relay and two lab STUN servers
 * (burrow's src/stun server as plain processes), and a burrow peer on the UDX path only.
 */
import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { LAB_STUN_PORT, startBurrow, startLabStun } from '../../lab/dist/index.js'
import type { Lab, LabHost, LabProcess } from '../../lab/dist/index.js'
import { startSpec, debugEnv } from '../holepunch/helpers.ts'
import type { LabNode } from '../holepunch/helpers.ts'

export const STUN_PORT = LAB_STUN_PORT

export interface Attempt { peer: string, role: string, method: string, outcome: string, detail: string, probes: number, sockets: number, ms: number, keepaliveMs: number | null }
export interface UdxStatus {
  udp: { mapping: string, reason: string, checkedAt: string | null, attempts: Attempt[] }
  reservations: unknown[]
  connections: Array<{ peerId: string, direct: boolean, remoteAddress: string, openedAt: string, whyRelayed?: string }>
}
export interface Stage { stage: string, elapsedMs: number, detail: string, method?: string, outcome?: string, probes?: number, sockets?: number, ms?: number }

/** A lab STUN server on `host` (burrow's src/stun as a plain process). */
export async function startStun (host: LabHost): Promise<LabProcess> {
  return startLabStun(host)
}

/** A relay (stock js-libp2p) and two STUN servers on public hosts of `lab`. */
export async function infra (lab: Lab): Promise<{ relayAddr: string, stun: string[] }> {
  const relayHost = await lab.addPublicHost('relay')
  const s1 = await lab.addPublicHost('stun1')
  const s2 = await lab.addPublicHost('stun2')
  await startStun(s1)
  await startStun(s2)
  const relay = await startSpec(lab, relayHost, 'relay', ['--serve-relay', '--dial-port', '0'])
  return { relayAddr: `/ip4/${relayHost.ip}/tcp/4001/p2p/${relay.peerId}`, stun: [`${s1.ip}:${STUN_PORT}`, `${s2.ip}:${STUN_PORT}`] }
}

export async function udxPeer (lab: Lab, host: LabHost, relayAddr: string, stun: string[], name: string, env: Record<string, string> = {}): Promise<LabNode> {
  const home = mkdtempSync(join(lab.runDir, `${name}-`))
  return startBurrow(lab, host, {
    home,
    bootstrap: [relayAddr],
    logName: `${name}-${home.slice(-6)}`,
    args: ['--dht-mode', 'client', '--punch', 'udx', ...stun.flatMap(s => ['--udp-stun-server', s])],
    env: { ...debugEnv(), ...env }
  })
}

export const esc = (ip: string): string => ip.replace(/\./g, '\\.')
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!
}
export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

