/**
 * Birthday probing: a direct UDP socket pair through one endpoint-dependent ("symmetric") NAT.
 *
 * A symmetric NAT gives every destination a new, random public port, so the port its peer
 * learned from STUN is useless for anyone else. But mappings can be made in bulk:
 *
 * 1. The endpoint-dependent side opens `sockets` (256) sockets and sends one datagram from
 *    each toward the other side's public ip:port with a low TTL: enough hops to leave its own
 *    NAT (which then holds 256 mappings, each `its public ip:random port ⇄ peer ip:port`), too
 *    few to reach the peer's router, so no unsolicited packet hits the peer's firewall.
 *    (In the lab, TTL 1 dies inside our router before conntrack confirms the flow: no
 *    mapping; TTL 2 makes the mapping and dies at the next hop, the peer's router, which is
 *    adjacent on the lab's internet and never forwards it to the peer's host.)
 * 2. The endpoint-independent side sends PROBEs from its one main socket (one public port for
 *    every destination) to random ports 1024–65535 of the peer's public IP, no port twice,
 *    paced at ≤ `probesPerSecond`, until one lands on a mapping: that datagram matches the
 *    mapping's reply direction, passes the symmetric NAT and reaches one of the 256 sockets.
 * 3. That socket answers PROBE_ACK (which passes the prober's NAT: it comes from exactly the
 *    ip:port the prober just sent to). Both now hold a socket pair with open mappings; the
 *    other sockets are closed.
 *
 * The maths (a birthday-style collision): the NAT picks each mapping's port uniformly among
 * P = 64,512 ports (1024–65535). With s mappings open, a probe to a port not tried before
 * hits with p = s / P (exactly: the k-th probe hits with s / (P − k + 1) given no hit yet).
 * For s = 256, p ≈ 0.397 %; the chance of no hit after k probes is ≈ (1 − p)^k, so
 *   50 % after ln 0.5 / ln(1 − p) ≈ 175 probes (1.75 s at 100/s),
 *   98 % after ln 0.02 / ln(1 − p) ≈ 984 probes (9.8 s),
 *   99.7 % after 1,500 probes (the default cap: 15 s at 100/s).
 * hyperdht (lib/holepuncher.js) uses the same 256 sockets and probes every 20 ms for ≤ 35 s.
 *
 * Wire format (the seam with src/udx/demux.ts): `BRWP` | kind (1 byte: PROBE 1, PROBE_ACK 2,
 * KEEPALIVE 3) | nonce (16 bytes): exactly 21 bytes. Anything else (other magic, kind or
 * length, another nonce, another source IP than the one the peer's relay observed) is
 * ignored: the peer and everyone on the path are treated as hostile.
 *
 * Safety: the caller only starts an attempt after the peer asked over an authenticated
 * relayed connection, toward the IP its relay observed; each attempt is capped (rate, total,
 * time) and a node-wide {@link ProbeBudget} bounds probes per second and sockets open at once
 * across all attempts, so many peers cannot multiply the caps. Sockets are closed on every
 * exit path (success, timeout, abort, error).
 */
import { randomInt } from 'node:crypto'
import { isIP } from 'node:net'
import { logger } from '@libp2p/logger'
import { UdxProbeError } from './errors.js'
import type { DatagramDemux } from './demux.js'
import type UDX from 'udx-native'
import type { UDXAddress, UDXSocket } from 'udx-native'

const log = logger('burrow:udx:birthday')

export const PROBE_MAGIC = 'BRWP'
export const PROBE_KIND = { PROBE: 1, PROBE_ACK: 2, KEEPALIVE: 3 } as const
export type ProbeKind = keyof typeof PROBE_KIND
export const NONCE_BYTES = 16
/** magic (4) + kind (1) + nonce (16); no other length is accepted */
export const PROBE_BYTES = 4 + 1 + NONCE_BYTES
/** ports a NAT hands out for mappings (Linux `masquerade random` keeps ports ≥ 1024 there) */
export const PROBE_PORT_MIN = 1024
export const PROBE_PORT_MAX = 65535
const PORT_SPACE = PROBE_PORT_MAX - PROBE_PORT_MIN + 1
/** issue 15: "paced (≤ 100 probes/s)": a hard ceiling, whatever is configured */
export const MAX_PROBES_PER_SECOND = 100
/** more sockets than this per attempt is a misconfiguration (the default fd limit is 1024) */
const MAX_SOCKETS_PER_ATTEMPT = 1024
/** the longest attempt accepted (hyperdht gives up after 35 s; our default is 15 s) */
const MAX_TIMEOUT_MS = 60_000
/** TTL of the datagrams that open our own NAT's mappings: measured in the lab, see step 1 above */
export const DEFAULT_LOW_TTL = 2
/** after the last probe, wait this long for an ACK still in flight (far above any path's RTT) */
const ACK_GRACE_MS = 1_000
/** PROBE_ACK is sent this many times back to back: the prober never probes the same port again, so one lost ACK would lose the attempt */
const ACK_COPIES = 2

export interface ProbeCaps {
  /** probes per second from the endpoint-independent side (≤ 100) */ probesPerSecond: number
  /** probes in total per attempt */ maxProbes: number
  /** sockets the endpoint-dependent side opens (256) */ sockets: number
  /** give up after this long (15_000) */ timeoutMs: number
}

/**
 * Per-attempt caps. 100/s: issue 15's ceiling, and it puts the median hit at ~1.75 s (the
 * issue's target is ≤ 2 s); 1,500 probes = 15 s at 100/s, 99.7 % success with 256 sockets;
 * 256 sockets: hyperdht's figure (lib/holepuncher.js), p ≈ 0.4 % per probe; 15 s: issue 15's cap.
 */
export const DEFAULT_PROBE_CAPS: ProbeCaps = Object.freeze({
  probesPerSecond: MAX_PROBES_PER_SECOND,
  maxProbes: 1_500,
  sockets: 256,
  timeoutMs: 15_000
})

/**
 * Node-wide: two attempts at full strength at once (2 × 100/s, 2 × 256 sockets); 512
 * sockets leave half of the usual 1024 file descriptors (`ulimit -n`) to everything else.
 */
export const DEFAULT_PROBE_BUDGET = Object.freeze({ probesPerSecond: 2 * MAX_PROBES_PER_SECOND, maxSockets: 512 })

export interface BirthdayResult { socket: UDXSocket, remoteHost: string, remotePort: number, probes: number, sockets: number, ms: number }

/** Options beyond the seam's caps (all optional). */
export interface BirthdayOptions {
  /** the node-wide budget; default: one shared by the whole process ({@link PROCESS_PROBE_BUDGET}) */
  budget?: ProbeBudget
  /** TTL of the mapping-opening datagrams (endpoint-dependent side); default 2 */
  lowTtl?: number
  /** endpoint-dependent side: called once every socket has sent its low-TTL datagram */
  onOpen?: (info: { sockets: number }) => void
  /** endpoint-independent side: called after each probe sent */
  onProbe?: (info: { probes: number, port: number }) => void
}

/**
 * Probes per second (a token bucket holding 100 ms worth) and sockets open at once, across
 * every attempt of a node. An attempt takes a token per probe (a probe without one is
 * skipped, not queued) and reserves its sockets up front (fewer than asked when the budget
 * is short, none: the attempt fails with PROBE_BUDGET).
 */
export class ProbeBudget {
  readonly probesPerSecond: number
  readonly maxSockets: number
  private tokens: number
  private at: number
  private sockets = 0
  private sent = 0
  private refused = 0

  constructor (init: { probesPerSecond: number, maxSockets: number }) {
    if (!(Number.isFinite(init.probesPerSecond) && init.probesPerSecond > 0)) throw capsError(`budget probesPerSecond ${init.probesPerSecond} is not a positive number`)
    if (!(Number.isInteger(init.maxSockets) && init.maxSockets >= 0)) throw capsError(`budget maxSockets ${init.maxSockets} is not a whole number ≥ 0`)
    this.probesPerSecond = init.probesPerSecond
    this.maxSockets = init.maxSockets
    this.tokens = this.burst
    this.at = performance.now()
  }

  private get burst (): number {
    return Math.max(1, this.probesPerSecond / 10)
  }

  /** One probe's token; false when the node is at its rate (skip this probe). */
  takeProbe (now = performance.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + (now - this.at) / 1000 * this.probesPerSecond)
    this.at = now
    if (this.tokens < 1) {
      this.refused++
      return false
    }
    this.tokens -= 1
    this.sent++
    return true
  }

  /** Reserves up to `n` sockets; returns how many were granted (maybe 0). */
  acquireSockets (n: number): number {
    const granted = Math.max(0, Math.min(n, this.maxSockets - this.sockets))
    this.sockets += granted
    return granted
  }

  releaseSockets (n: number): void {
    this.sockets = Math.max(0, this.sockets - n)
  }

  status (): { probesPerSecond: number, maxSockets: number, openSockets: number, probesSent: number, probesRefused: number } {
    return { probesPerSecond: this.probesPerSecond, maxSockets: this.maxSockets, openSockets: this.sockets, probesSent: this.sent, probesRefused: this.refused }
  }
}

/** The budget used when an attempt is given none: one per process (one node per process). */
export const PROCESS_PROBE_BUDGET = new ProbeBudget(DEFAULT_PROBE_BUDGET)

/** The `probing.*` config keys (src/config/fields.ts) as this attempt's caps. */
export function probeCapsFromConfig (probing: { perSecond: number, maxProbes: number, sockets: number, timeoutSeconds: number }): ProbeCaps {
  return { probesPerSecond: probing.perSecond, maxProbes: probing.maxProbes, sockets: probing.sockets, timeoutMs: probing.timeoutSeconds * 1000 }
}

/** The node-wide budget from the `probing.node*` config keys. */
export function probeBudgetFromConfig (probing: { nodePerSecond: number, nodeSockets: number }): ProbeBudget {
  return new ProbeBudget({ probesPerSecond: probing.nodePerSecond, maxSockets: probing.nodeSockets })
}

export function encodeProbe (kind: ProbeKind, nonce: Uint8Array): Buffer {
  const buf = Buffer.alloc(PROBE_BYTES)
  buf.write(PROBE_MAGIC, 0, 'latin1')
  buf[4] = PROBE_KIND[kind]
  buf.set(nonce, 5)
  return buf
}

/** The kind and nonce of a well-formed probe datagram, or undefined for anything else. */
export function decodeProbe (buf: Uint8Array): { kind: ProbeKind, nonce: Uint8Array } | undefined {
  if (buf.length !== PROBE_BYTES) return undefined
  if (buf[0] !== 0x42 || buf[1] !== 0x52 || buf[2] !== 0x57 || buf[3] !== 0x50) return undefined // BRWP
  const kind = (Object.keys(PROBE_KIND) as ProbeKind[]).find(k => PROBE_KIND[k] === buf[4])
  if (kind === undefined) return undefined
  return { kind, nonce: buf.subarray(5) }
}

/** Chance that `probes` distinct random ports hit one of `sockets` mappings (exact, without replacement). */
export function hitProbability (sockets: number, probes: number, ports = PORT_SPACE): number {
  let miss = 1
  for (let i = 0; i < probes && miss > 0; i++) miss *= Math.max(0, ports - sockets - i) / (ports - i)
  return 1 - miss
}

/**
 * Endpoint-dependent side: open caps.sockets sockets, send a low-TTL packet from each to `remote` (so only our own NAT
 * opens a mapping), answer the first valid PROBE carrying `nonce` with PROBE_ACK, keep that socket, close the others.
 * Resolves with the winning socket and the peer's address as seen; rejects `UdxPunchError` on timeout/abort.
 */
export async function openBirthdaySockets (udx: UDX, remote: { host: string, port: number }, nonce: Uint8Array, caps: ProbeCaps, signal: AbortSignal, options: BirthdayOptions = {}): Promise<BirthdayResult> {
  checkCaps(caps)
  checkNonce(nonce)
  const remoteHost = checkHost(remote.host)
  if (!(Number.isInteger(remote.port) && remote.port > 0 && remote.port <= 65535)) throw capsError(`remote port ${remote.port} is not a UDP port`)
  const lowTtl = options.lowTtl ?? DEFAULT_LOW_TTL
  if (!(Number.isInteger(lowTtl) && lowTtl >= 1 && lowTtl <= 255)) throw capsError(`lowTtl ${lowTtl} is not 1–255`)
  if (signal.aborted) throw abortedError(remoteHost, signal)
  const budget = options.budget ?? PROCESS_PROBE_BUDGET
  const granted = budget.acquireSockets(caps.sockets)
  if (granted === 0) {
    throw new UdxProbeError('PROBE_BUDGET', `all ${budget.maxSockets} probe sockets of this node are in use by other attempts; the connection stays relayed, retry when they finish`)
  }
  const started = performance.now()
  const sockets: UDXSocket[] = []
  const listeners = new Map<UDXSocket, (buf: Buffer, from: UDXAddress) => void>()
  let winner: { socket: UDXSocket, port: number } | undefined
  let probesSeen = 0
  let ignored = 0
  let won: () => void = () => {}
  const wonPromise = new Promise<void>(resolve => { won = resolve })
  const ack = encodeProbe('PROBE_ACK', nonce)

  const onMessage = (socket: UDXSocket, buf: Buffer, from: UDXAddress): void => {
    const p = decodeProbe(buf)
    if (p?.kind !== 'PROBE' || !Buffer.from(p.nonce).equals(nonce) || plainHost(from.host) !== remoteHost) {
      ignored++
      return
    }
    probesSeen++
    if (winner !== undefined) return
    winner = { socket, port: from.port }
    for (let i = 0; i < ACK_COPIES; i++) socket.trySend(ack, from.port, from.host)
    won()
  }

  try {
    const bindHost = isIP(remoteHost) === 6 ? '::' : '0.0.0.0'
    const keepalive = encodeProbe('KEEPALIVE', nonce)
    for (let i = 0; i < granted; i++) {
      const socket = udx.createSocket()
      sockets.push(socket)
      try {
        socket.bind(0, bindHost)
      } catch (err) {
        throw new UdxProbeError('PROBE_SOCKETS', `could open only ${i} of ${granted} probe sockets (${(err as Error).message}); raise the open-files limit or lower the sockets cap`, { cause: err })
      }
      const listener = (buf: Buffer, from: UDXAddress): void => { onMessage(socket, buf, from) }
      listeners.set(socket, listener)
      socket.on('message', listener)
    }
    for (const socket of sockets) socket.trySend(keepalive, remote.port, remote.host, lowTtl)
    log('%d sockets opened mappings toward %s:%d (ttl %d)', granted, remoteHost, remote.port, lowTtl)
    options.onOpen?.({ sockets: granted })

    const outcome = await raceDeadline(wonPromise, caps.timeoutMs, signal)
    if (outcome === 'aborted') throw abortedError(remoteHost, signal, { sockets: granted })
    if (outcome === 'timeout' || winner === undefined) {
      throw new UdxProbeError('PROBE_TIMEOUT', `no probe from ${remoteHost} reached any of ${granted} sockets in ${seconds(caps.timeoutMs)} s (${ignored} other datagrams ignored); the peer's NAT or firewall may drop them, the connection stays relayed`, { sockets: granted })
    }
    const ms = Math.round(performance.now() - started)
    log('probe from %s:%d hit after %d ms', remoteHost, winner.port, ms)
    return { socket: winner.socket, remoteHost, remotePort: winner.port, probes: probesSeen, sockets: granted, ms }
  } finally {
    for (const [socket, listener] of listeners) socket.off('message', listener)
    const losers = sockets.filter(s => s !== winner?.socket)
    await Promise.all(losers.map(async s => { await s.close() }))
    // the winner now belongs to the connection, not to probing
    budget.releaseSockets(granted)
  }
}

/**
 * Endpoint-independent side: from `socket` (through `demux`), send PROBEs carrying `nonce` to random ports of `remoteHost`,
 * paced at caps.probesPerSecond, at most caps.maxProbes, until a PROBE_ACK with the nonce arrives; resolves with the
 * answering port (remoteHost/remotePort) and the probe count. Rejects `UdxPunchError` on timeout/abort.
 */
export async function probeRandomPorts (socket: UDXSocket, demux: DatagramDemux, remoteHost: string, nonce: Uint8Array, caps: ProbeCaps, signal: AbortSignal, options: BirthdayOptions = {}): Promise<BirthdayResult> {
  checkCaps(caps)
  checkNonce(nonce)
  const host = checkHost(remoteHost)
  if (signal.aborted) throw abortedError(host, signal)
  const budget = options.budget ?? PROCESS_PROBE_BUDGET
  const started = performance.now()
  const probe = encodeProbe('PROBE', nonce)
  const ports = new RandomPorts()
  const max = Math.min(caps.maxProbes, PORT_SPACE)
  let sent = 0
  let skipped = 0
  let hit: number | undefined
  let settle: () => void = () => {}
  const settled = new Promise<void>(resolve => { settle = resolve })
  let graceTimer: NodeJS.Timeout | undefined

  const off = demux.on('BRWP', (buf, from) => {
    if (hit !== undefined) return
    const p = decodeProbe(buf)
    if (p?.kind !== 'PROBE_ACK' || !Buffer.from(p.nonce).equals(nonce) || plainHost(from.host) !== host) return
    hit = from.port
    settle()
  })
  // Pacing: probe k (0-based) goes no earlier than k / probesPerSecond s after the start, so a
  // late timer tick catches up instead of losing probes; and never more than probesPerSecond
  // in any 1 s (the send times of the last probesPerSecond probes are kept to check that).
  const window: number[] = []
  const perSecond = caps.probesPerSecond
  const windowSize = Math.max(1, Math.floor(perSecond))
  const tick = (): void => {
    const now = performance.now()
    const due = Math.floor((now - started) * perSecond / 1000) + 1
    while (hit === undefined && sent < max && sent < due) {
      if (window.length >= windowSize && now - window[0]! < 1000) return
      if (!budget.takeProbe(now)) {
        skipped++
        return
      }
      const port = ports.next()
      socket.trySend(probe, port, remoteHost)
      sent++
      window.push(now)
      if (window.length > windowSize) window.shift()
      options.onProbe?.({ probes: sent, port })
    }
    if (sent >= max && graceTimer === undefined) {
      clearInterval(timer)
      graceTimer = setTimeout(settle, ACK_GRACE_MS)
    }
  }
  const timer = setInterval(tick, Math.max(1, Math.floor(1000 / perSecond)))
  try {
    tick()
    const outcome = await raceDeadline(settled, caps.timeoutMs, signal)
    if (hit !== undefined) {
      const ms = Math.round(performance.now() - started)
      log('PROBE_ACK from %s:%d after %d probes, %d ms', host, hit, sent, ms)
      return { socket, remoteHost: host, remotePort: hit, probes: sent, sockets: 1, ms }
    }
    if (outcome === 'aborted') throw abortedError(host, signal, { probes: sent, sockets: 1 })
    const took = seconds(performance.now() - started)
    const short = skipped > 0 ? ` (${skipped} more skipped: the node's probe budget was in use)` : ''
    throw new UdxProbeError('PROBE_TIMEOUT', `no answer to ${sent} probes in ${took} s from ${host}${short}; the peer's NAT may map every destination to a new port range, the connection stays relayed`, { probes: sent, sockets: 1 })
  } finally {
    clearInterval(timer)
    clearTimeout(graceTimer)
    off()
  }
}

/** Ports 1024–65535 in random order, none twice (rejection sampling: attempts use ≪ 64,512 of them). */
class RandomPorts {
  private readonly used = new Set<number>()

  next (): number {
    if (this.used.size >= PORT_SPACE) throw capsError('every port was probed')
    for (;;) {
      const port = randomInt(PROBE_PORT_MIN, PROBE_PORT_MAX + 1)
      if (!this.used.has(port)) {
        this.used.add(port)
        return port
      }
    }
  }
}

async function raceDeadline (done: Promise<void>, timeoutMs: number, signal: AbortSignal): Promise<'done' | 'timeout' | 'aborted'> {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([
      done.then(() => 'done' as const),
      new Promise<'timeout'>(resolve => { timer = setTimeout(() => { resolve('timeout') }, timeoutMs) }),
      new Promise<'aborted'>(resolve => {
        onAbort = () => { resolve('aborted') }
        signal.addEventListener('abort', onAbort, { once: true })
      })
    ])
  } finally {
    clearTimeout(timer)
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}

function checkCaps (caps: ProbeCaps): void {
  const whole = (v: number, lo: number, hi: number): boolean => Number.isInteger(v) && v >= lo && v <= hi
  if (!(Number.isFinite(caps.probesPerSecond) && caps.probesPerSecond > 0 && caps.probesPerSecond <= MAX_PROBES_PER_SECOND)) {
    throw capsError(`probesPerSecond ${caps.probesPerSecond} is not in (0, ${MAX_PROBES_PER_SECOND}]`)
  }
  if (!whole(caps.maxProbes, 1, PORT_SPACE)) throw capsError(`maxProbes ${caps.maxProbes} is not 1–${PORT_SPACE}`)
  if (!whole(caps.sockets, 1, MAX_SOCKETS_PER_ATTEMPT)) throw capsError(`sockets ${caps.sockets} is not 1–${MAX_SOCKETS_PER_ATTEMPT}`)
  if (!whole(caps.timeoutMs, 1, MAX_TIMEOUT_MS)) throw capsError(`timeoutMs ${caps.timeoutMs} is not 1–${MAX_TIMEOUT_MS}`)
}

function checkNonce (nonce: Uint8Array): void {
  if (nonce.length !== NONCE_BYTES) throw capsError(`the attempt's nonce has ${nonce.length} bytes, not ${NONCE_BYTES}`)
}

function checkHost (host: string): string {
  const plain = plainHost(host)
  if (isIP(plain) === 0) throw capsError(`"${host}" is not an IP address`)
  return plain
}

/** `::ffff:1.2.3.4` (an IPv4 peer on a dual-stack socket) → `1.2.3.4` */
function plainHost (host: string): string {
  return host.startsWith('::ffff:') && isIP(host.slice(7)) === 4 ? host.slice(7) : host
}

function capsError (what: string): UdxProbeError {
  return new UdxProbeError('PROBE_CAPS', `${what}; fix the probing caps passed to the UDX punch`)
}

function abortedError (host: string, signal: AbortSignal, counts: { probes?: number, sockets?: number } = {}): UdxProbeError {
  return new UdxProbeError('PROBE_ABORTED', `probing toward ${host} was cancelled (${String(signal.reason ?? 'aborted')}); nothing to do`, { cause: signal.reason, ...counts })
}

function seconds (ms: number): string {
  return (ms / 1000).toFixed(ms < 10_000 ? 1 : 0)
}
