/**
 * Birthday probing through an endpoint-dependent ("symmetric") NAT: owned by engineer
 * "bday"; this file is the agreed seam's stub (docs/DESIGN.md, UDX path). The real
 * implementation replaces it at the merge; until then both functions reject, so the punch
 * coordinator records the attempt as failed with this reason.
 */
import { UdxPunchError } from './errors.js'
import type { DatagramDemux } from './demux.js'
import type UDX from 'udx-native'
import type { UDXSocket } from 'udx-native'

export interface ProbeCaps {
  /** probes per second from the endpoint-independent side (≤ 100) */ probesPerSecond: number
  /** probes in total per attempt */ maxProbes: number
  /** sockets the endpoint-dependent side opens (256) */ sockets: number
  /** give up after this long (15_000) */ timeoutMs: number
}

/** Issue 15: ≤ 100 probes/s, 256 sockets, 15 s; 1,500 probes at 100/s is the 15 s cap (98 % hit after ~1,000). */
export const DEFAULT_PROBE_CAPS: ProbeCaps = { probesPerSecond: 100, maxProbes: 1500, sockets: 256, timeoutMs: 15_000 }

export interface BirthdayResult { socket: UDXSocket, remoteHost: string, remotePort: number, probes: number, sockets: number, ms: number }

const notYet = (): UdxPunchError => new UdxPunchError('birthday probing is not in this build yet (src/udx/birthday.ts is a stub): an endpoint-dependent NAT stays relayed')

/** Endpoint-dependent side (stub). */
export async function openBirthdaySockets (_udx: UDX, _remote: { host: string, port: number }, _nonce: Uint8Array, _caps: ProbeCaps, _signal: AbortSignal): Promise<BirthdayResult> {
  throw notYet()
}

/** Endpoint-independent side (stub). */
export async function probeRandomPorts (_socket: UDXSocket, _demux: DatagramDemux, _remoteHost: string, _nonce: Uint8Array, _caps: ProbeCaps, _signal: AbortSignal): Promise<BirthdayResult> {
  throw notYet()
}

/** Node-wide budget shared by all attempts (stub: the real one meters probes and sockets). */
export class ProbeBudget {
  readonly probesPerSecond: number
  readonly maxSockets: number
  constructor (init: { probesPerSecond: number, maxSockets: number }) {
    this.probesPerSecond = init.probesPerSecond
    this.maxSockets = init.maxSockets
  }
}
