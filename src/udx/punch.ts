/**
 * The UDX punch coordinator: `/burrow/udx-punch/1.0.0`, over the relayed connection, in the
 * style of DCUtR (libp2p/specs relay/DCUtR.md). A is the side that opens the stream (it
 * calls `attemptUdx`), B answers it.
 *
 * Messages: length-prefixed (unsigned varint) UTF-8 JSON objects, at most 512 bytes, with
 * exactly these keys (anything else is refused and the stream reset):
 * - `{"type":"CONNECT","addr":"IP:PORT"|null,"nat":"endpoint-independent"|"endpoint-dependent"|"unknown","keepaliveMs":N,"nonce":"32 hex"}`
 * - `{"type":"SYNC"}`
 *
 * Steps:
 * 1. A sends CONNECT with its public UDX address (STUN on its UDX socket), its NAT's UDP
 *    mapping, the keepalive it wants and a fresh nonce; A's RTT timer starts.
 * 2. B answers CONNECT with its own; A's timer stops: RTT.
 * 3. A sends SYNC and fires (birthday: RTT/2 after SYNC); B fires when SYNC arrives (direct
 *    method: on CONNECT, so its NAT is open before A's HELLO can come). Both decide the method
 *    from the two NAT kinds alone, so they agree without another message:
 *    - neither endpoint-dependent: each sends to the other's public address (A: HELLO, the
 *      UDX handshake's initiator; B: PUNCH datagrams until A's HELLO arrives);
 *    - one endpoint-dependent: birthday probing (src/udx/birthday.ts) with A's nonce; the
 *      winning socket pair carries the UDX stream;
 *    - both endpoint-dependent (or an address missing): no attempt, and the record says why.
 * 4. The UDX stream is upgraded (Noise: A initiates; yamux) into a direct libp2p connection.
 * Keepalive on it: the smaller of both asks, never below 5 s.
 *
 * Safety: B answers only over a relayed (so authenticated, Noise through the relay)
 * connection; datagrams go only to the peer's STUN-reported address after it passed the dial
 * policy (`peerSuppliedRefusal`), and birthday probes only toward an IP the peer was seen at
 * (identify, the peer store), not only what it says of itself; attempts are capped per peer and per node; everything lands in the
 * attempt record.
 */
import { randomBytes } from 'node:crypto'
import { TypedEventEmitter, UnsupportedProtocolError } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { isCircuitAddress, isRelayed, UpgradeAttemptError } from '../connections/index.js'
import type { PathUpgradeService, UpgradeStrategy } from '../connections/index.js'
import { classifyIp, peerSuppliedRefusal } from '../dial-policy/index.js'
import type { PrivatePolicy } from '../dial-policy/index.js'
import { UdxPunchError, UdxProbeError, UdxProtocolError } from './errors.js'
import { UdxTransport } from './transport.js'
import { checkUdpMapping } from './stun.js'
import type { UdpMapping, UdpMappingReport } from './stun.js'
import { DEFAULT_PROBE_CAPS, openBirthdaySockets, probeRandomPorts, ProbeBudget } from './birthday.js'
import type { ProbeCaps } from './birthday.js'
import {
  DEFAULT_UDX_KEEPALIVE_MS, MAX_ATTEMPT_RECORDS, MAX_ATTEMPTS_PER_MINUTE, MAX_ATTEMPTS_PER_PEER, MAX_PUNCH_MESSAGE_BYTES,
  MAX_TRACKED_PEERS, MIN_KEEPALIVE_MS, PUNCH_DIRECT_TIMEOUT_MS, PUNCH_EXCHANGE_TIMEOUT_MS, PUNCH_PEER_WINDOW_MS,
  STUN_RECHECK_MS, STUN_RECHECK_UNKNOWN_MS, UDX_PUNCH_PROTOCOL
} from './constants.js'
import type { Connection, Libp2pEvents, PeerId, PeerStore, Startable, Stream, StreamMuxer, TypedEventTarget, Logger, ComponentLogger } from '@libp2p/interface'
import type { ConnectionManager, Registrar, TransportManager } from '@libp2p/interface-internal'


export type UdxMethod = 'direct' | 'birthday' | 'none'

/**
 * Where the attempt's time went, in ms (null: the phase did not run). `streamMs`: opening the
 * punch stream on the relayed connection (A; ~0 when pipelined); `connectRttMs`: CONNECT each
 * way (A: our CONNECT → theirs; B: our CONNECT → A's SYNC); `syncWaitMs`: A's wait after
 * SYNC (birthday: RTT/2; direct: 0; B: 0); `handshakeMs`: the BRWH HELLO/ACK stream handshake (for birthday: after probing
 * won); `upgradeMs`: the libp2p upgrade (Noise with its multistream-select; yamux is chosen
 * inside Noise's handshake, no round trip).
 */
export interface UdxPhases {
  streamMs: number | null
  connectRttMs: number | null
  syncWaitMs: number | null
  handshakeMs: number | null
  upgradeMs: number | null
}

const NO_PHASES: UdxPhases = { streamMs: null, connectRttMs: null, syncWaitMs: null, handshakeMs: null, upgradeMs: null }

export interface UdxAttemptRecord {
  peer: string
  /** `initiator`: we opened the punch stream (A); `responder`: the peer did (B) */
  role: 'initiator' | 'responder'
  method: UdxMethod
  outcome: 'direct' | 'failed' | 'skipped'
  /** one line: the direct address, or why not */
  detail: string
  localNat: UdpMapping
  remoteNat: UdpMapping | null
  /** the peer's public UDX address it told us (after the dial policy) */
  remoteAddress: string | null
  rttMs: number | null
  /** birthday probes sent, sockets opened (0 for the direct method) */
  probes: number
  sockets: number
  /** keepalive on the direct connection (the smaller of both asks) */
  keepaliveMs: number | null
  startedAt: string
  /** from the attempt's start to its end */
  ms: number
  /** from firing (A: RTT/2 after SYNC; B: on CONNECT for the direct method, else on SYNC) to the upgraded connection */
  fireMs?: number
  /** where the time went (see UdxPhases) */
  phases: UdxPhases
}

export interface ConnectMessage {
  type: 'CONNECT'
  addr: string | null
  nat: UdpMapping
  keepaliveMs: number
  nonce: string
}
export type PunchMessage = ConnectMessage | { type: 'SYNC' }

const NATS: ReadonlySet<string> = new Set(['endpoint-independent', 'endpoint-dependent', 'unknown'])

export function encodePunchMessage (msg: PunchMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(msg))
}

/** Strictly validated: exactly the keys of one message type, in range; throws UdxProtocolError otherwise. */
export function decodePunchMessage (bytes: Uint8Array): PunchMessage {
  if (bytes.byteLength > MAX_PUNCH_MESSAGE_BYTES) throw new UdxProtocolError(`a punch message of ${bytes.byteLength} bytes (max ${MAX_PUNCH_MESSAGE_BYTES}): the peer is not speaking ${UDX_PUNCH_PROTOCOL}`)
  let v: unknown
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw new UdxProtocolError('a punch message that is not UTF-8 JSON: the peer is not speaking ' + UDX_PUNCH_PROTOCOL)
  }
  if (typeof v !== 'object' || v == null || Array.isArray(v)) throw new UdxProtocolError('a punch message that is not a JSON object')
  const o = v as Record<string, unknown>
  const keys = Object.keys(o).sort().join(',')
  if (o.type === 'SYNC' && keys === 'type') return { type: 'SYNC' }
  if (o.type !== 'CONNECT' || keys !== 'addr,keepaliveMs,nat,nonce,type') throw new UdxProtocolError(`an unknown punch message (keys ${keys.slice(0, 80)})`)
  if (o.addr !== null && (typeof o.addr !== 'string' || !/^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/.test(o.addr) || Number(o.addr.split(':')[1]) < 1 || Number(o.addr.split(':')[1]) > 65535)) throw new UdxProtocolError('CONNECT.addr is not IPv4:PORT or null')
  if (typeof o.nat !== 'string' || !NATS.has(o.nat)) throw new UdxProtocolError('CONNECT.nat is not a known NAT kind')
  if (typeof o.keepaliveMs !== 'number' || !Number.isInteger(o.keepaliveMs) || o.keepaliveMs < 1 || o.keepaliveMs > 3_600_000) throw new UdxProtocolError('CONNECT.keepaliveMs is not an integer in 1..3600000')
  if (typeof o.nonce !== 'string' || !/^[0-9a-f]{32}$/.test(o.nonce)) throw new UdxProtocolError('CONNECT.nonce is not 32 hex digits')
  return { type: 'CONNECT', addr: o.addr as string | null, nat: o.nat as UdpMapping, keepaliveMs: o.keepaliveMs, nonce: o.nonce }
}

/** Which method two NAT kinds allow (both sides compute it alike); with a reason when none. */
export function methodFor (ours: UdpMapping, theirs: UdpMapping): { method: UdxMethod, why?: string } {
  if (ours === 'endpoint-dependent' && theirs === 'endpoint-dependent') {
    return { method: 'none', why: 'both NATs are endpoint-dependent (symmetric) for UDP, ours and the peer\'s: no punch can work (~170,000 probes each side), the connection stays relayed' }
  }
  if (ours === 'endpoint-dependent' || theirs === 'endpoint-dependent') return { method: 'birthday' }
  return { method: 'direct' }
}

export interface UdxPunchComponents {
  registrar: Registrar
  transportManager: TransportManager
  connectionManager: ConnectionManager
  peerStore: PeerStore
  events: TypedEventTarget<Libp2pEvents>
  peerId: PeerId
  /** the path module (src/connections): with `autoAttempt` the punch registers as its `udx` strategy */
  pathUpgrade?: Pick<PathUpgradeService, 'addStrategy'>
  logger: ComponentLogger
}

export interface UdxPunchInit {
  /** off: no UDX punch is started or answered (the transport may still listen) */
  enabled: boolean
  /** STUN sources for our UDX socket's public address: `HOST:PORT` / `stun:HOST:PORT` (a function: relays change) */
  stunServers: () => string[]
  /** which private addresses may be dialled (src/dial-policy) */
  privatePolicy: PrivatePolicy
  /** keepalive we ask for on direct UDX connections (ms) */
  keepaliveMs?: number
  /** birthday probing caps per attempt (config `probing.*`) */
  probeCaps?: ProbeCaps
  /** the node-wide probing budget shared by all attempts (config `probing.nodePerSecond`, `nodeSockets`) */
  probeBudget?: ProbeBudget
  /**
   * register as the path module's `udx` strategy: it then runs on each relayed connection we
   * dialled, raced with the other strategies (the first direct connection wins)
   */
  autoAttempt?: boolean
}

export interface UdxPunchEvents {
  'udxpunch:attempt': CustomEvent<UdxAttemptRecord>
  'udxpunch:mapping': CustomEvent<UdpMappingReport>
}

export interface UdpStatus {
  enabled: boolean
  /** our UDX listen port (null until bound) */
  port: number | null
  mapping: UdpMapping
  /** one line: why the mapping is what it is (e.g. no STUN source answered) */
  reason: string
  publicAddress: string | null
  stunSources: UdpMappingReport['sources']
  checkedAt: string | null
  attempts: UdxAttemptRecord[]
}

export class UdxPunchService extends TypedEventEmitter<UdxPunchEvents> implements Startable {
  private readonly components: UdxPunchComponents
  private readonly init: UdxPunchInit
  private started = false
  private report?: UdpMappingReport
  private checking?: Promise<UdpMappingReport | undefined>
  private recheck?: NodeJS.Timeout
  private unbind?: () => void
  private readonly records: UdxAttemptRecord[] = []
  private readonly perPeer = new Map<string, number[]>()
  private readonly rounds: number[] = []
  private readonly running = new Map<string, AbortController>()
  /** peers whose punch stream took over our own attempt (lower PeerId's goes on): that attempt failed nothing */
  private readonly takenOver = new Set<string>()
  private readonly lastFailure = new Map<string, string>()
  readonly budget: ProbeBudget
  /** the path module's `udx` strategy: the side that dialled the relayed connection starts (it wants the peer); B answers */
  private readonly strategy: UpgradeStrategy = {
    name: 'udx',
    applicable: (relayed) => {
      if (!this.started) return 'the UDX path is off'
      if (relayed.direction !== 'outbound') return 'the side that dialled the relayed connection starts the UDX punch; we answer it'
      if (this.transport()?.mainSocket == null) return 'no UDX socket: the node does not listen on UDX'
      return undefined
    },
    attempt: async (relayed, signal) => {
      const capped = AbortSignal.any([signal, AbortSignal.timeout(PUNCH_EXCHANGE_TIMEOUT_MS + PUNCH_DIRECT_TIMEOUT_MS + (this.init.probeCaps ?? DEFAULT_PROBE_CAPS).timeoutMs)])
      try {
        const { connection, record } = await this.attemptUdx(relayed, capped)
        return { connection, record: { ...record } }
      } catch (err) {
        const record = (err as { record?: UdxAttemptRecord }).record
        // nothing failed when a direct connection came first (the TCP punch won the race), or
        // when the peer's own attempt took ours over (both ends started; theirs goes on)
        const tookOver = this.takenOver.delete(relayed.remotePeer.toString())
        throw new UpgradeAttemptError((err as Error).message, { ...(record ?? {}) }, { quiet: tookOver || this.hasDirect(relayed.remotePeer) })
      }
    }
  }

  private readonly log: Logger

  constructor (components: UdxPunchComponents, init: UdxPunchInit) {
    super()
    this.log = components.logger.forComponent('burrow:udx:punch')
    this.components = components
    this.init = init
    const caps = init.probeCaps ?? DEFAULT_PROBE_CAPS
    this.budget = init.probeBudget ?? new ProbeBudget({ probesPerSecond: caps.probesPerSecond, maxSockets: caps.sockets })
  }

  readonly [Symbol.toStringTag] = 'burrow:udx-punch'

  get enabled (): boolean {
    return this.init.enabled
  }

  private transport (): UdxTransport | undefined {
    return this.components.transportManager.getTransports().find((t): t is UdxTransport => t instanceof UdxTransport)
  }

  async start (): Promise<void> {
    if (this.started || !this.init.enabled) return
    await this.components.registrar.handle(UDX_PUNCH_PROTOCOL, (stream, conn) => {
      void this.respond(stream, conn).catch(err => { this.log('answering %p failed - %e', conn.remotePeer, err) })
    }, { runOnLimitedConnection: true, maxInboundStreams: 4, maxOutboundStreams: 4 })
    if (this.init.autoAttempt === true) this.components.pathUpgrade?.addStrategy(this.strategy)
    this.started = true
  }

  afterStart (): void {
    if (!this.started) return
    this.unbind = this.transport()?.whenBound(() => { void this.checkMapping() })
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.unbind?.()
    clearTimeout(this.recheck)
    for (const c of this.running.values()) c.abort(new UdxPunchError('the node is stopping'))
    this.running.clear()
    await this.components.registrar.unhandle(UDX_PUNCH_PROTOCOL)
  }

  /** Asks the STUN sources again (on start, every 10 min, every minute while unknown). */
  async checkMapping (): Promise<UdpMappingReport | undefined> {
    if (this.checking != null) return await this.checking
    this.checking = (async () => {
      const main = this.transport()?.mainSocket
      if (main == null) return undefined
      const report = await checkUdpMapping(main.socket, main.demux, this.init.stunServers())
      this.report = report
      this.log('UDP mapping %s: %s', report.mapping, report.reason)
      this.safeDispatchEvent('udxpunch:mapping', { detail: report })
      clearTimeout(this.recheck)
      if (this.started) {
        this.recheck = setTimeout(() => { void this.checkMapping() }, report.mapping === 'unknown' ? STUN_RECHECK_UNKNOWN_MS : STUN_RECHECK_MS)
        this.recheck.unref()
      }
      return report
    })()
    try {
      return await this.checking
    } finally {
      this.checking = undefined
    }
  }

  status (): UdpStatus {
    const r = this.report
    return {
      enabled: this.init.enabled,
      port: this.transport()?.mainSocket?.port ?? null,
      mapping: r?.mapping ?? 'unknown',
      reason: r?.reason ?? (this.init.enabled ? 'not checked yet (STUN on the UDX socket runs at start)' : 'the UDX path is off'),
      publicAddress: r?.publicAddress != null ? `${r.publicAddress.host}:${r.publicAddress.port}` : null,
      stunSources: r?.sources ?? [],
      checkedAt: r?.checkedAt ?? null,
      attempts: [...this.records]
    }
  }

  /** Why the last UDX attempt with a peer did not give a direct connection, if one failed. */
  failureFor (peer: string): string | undefined {
    return this.lastFailure.get(peer)
  }

  /** Takes one attempt from the peer's and the node's caps; a reason when there is none left. */
  private takeAttempt (peer: string): string | undefined {
    const now = Date.now()
    while (this.rounds.length > 0 && now - (this.rounds[0] ?? 0) > 60_000) this.rounds.shift()
    if (this.rounds.length >= MAX_ATTEMPTS_PER_MINUTE) return `the node's cap of ${MAX_ATTEMPTS_PER_MINUTE} UDX attempts a minute is reached: try again in a minute`
    const times = (this.perPeer.get(peer) ?? []).filter(t => now - t < PUNCH_PEER_WINDOW_MS)
    if (times.length >= MAX_ATTEMPTS_PER_PEER) return `${MAX_ATTEMPTS_PER_PEER} UDX attempts with this peer within ${PUNCH_PEER_WINDOW_MS / 60_000} minutes: backed off`
    times.push(now)
    this.perPeer.delete(peer)
    this.perPeer.set(peer, times)
    while (this.perPeer.size > MAX_TRACKED_PEERS) {
      const oldest = this.perPeer.keys().next().value
      if (oldest === undefined) break
      this.perPeer.delete(oldest)
    }
    this.rounds.push(now)
    return undefined
  }

  private ourConnect (nonce: string): ConnectMessage {
    const r = this.report
    return {
      type: 'CONNECT',
      addr: r?.publicAddress != null ? `${r.publicAddress.host}:${r.publicAddress.port}` : null,
      nat: r?.mapping ?? 'unknown',
      keepaliveMs: this.init.keepaliveMs ?? DEFAULT_UDX_KEEPALIVE_MS,
      nonce
    }
  }

  /** The peer's address, if the dial policy lets datagrams go there. */
  private theirAddress (addr: string | null): { host: string, port: number } | string {
    if (addr == null) return 'the peer knows no public UDX address of its own (no STUN source answered it)'
    const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))]
    const refusal = peerSuppliedRefusal(multiaddr(`/ip4/${host}/udp/${port}`), this.init.privatePolicy)
    if (refusal != null) return `the peer's UDX address ${addr} is refused: ${refusal}`
    return { host, port }
  }

  /** IPs the peer was seen at (identify and the peer store): birthday probes go only there. */
  private async knownIps (peer: PeerId): Promise<Set<string>> {
    const out = new Set<string>()
    try {
      const p = await this.components.peerStore.get(peer)
      for (const a of p.addresses) {
        const c = a.multiaddr.getComponents()[0]
        // public addresses only: a LAN or loopback address says nothing of where the peer is seen from outside
        if ((c?.name === 'ip4' || c?.name === 'ip6') && c.value != null && !isCircuitAddress(a.multiaddr) && classifyIp(c.value) === 'public') out.add(c.value)
      }
    } catch {}
    return out
  }

  private record (rec: UdxAttemptRecord): UdxAttemptRecord {
    this.records.push(rec)
    while (this.records.length > MAX_ATTEMPT_RECORDS) this.records.shift()
    if (rec.outcome === 'direct') this.lastFailure.delete(rec.peer)
    else this.lastFailure.set(rec.peer, `UDX: ${rec.detail}`)
    this.safeDispatchEvent('udxpunch:attempt', { detail: rec })
    return rec
  }

  /**
   * A: runs one UDX punch with the peer of a relayed connection; resolves with the direct
   * connection and the attempt's record, or rejects `UdxPunchError` (the record is kept in
   * `status().attempts` either way).
   */
  async attemptUdx (relayed: Connection, signal: AbortSignal): Promise<{ connection: Connection, record: UdxAttemptRecord }> {
    const peer = relayed.remotePeer.toString()
    const started = Date.now()
    const phases: UdxPhases = { ...NO_PHASES }
    const base = { peer, role: 'initiator' as const, localNat: this.report?.mapping ?? 'unknown' as UdpMapping, remoteNat: null, remoteAddress: null, rttMs: null, probes: 0, sockets: 0, keepaliveMs: null, startedAt: new Date(started).toISOString(), phases }
    const fail = (method: UdxMethod, detail: string, extra: Partial<UdxAttemptRecord> = {}, outcome: 'failed' | 'skipped' = 'failed'): never => {
      const record = this.record({ ...base, ...extra, method, outcome, detail, ms: Date.now() - started, phases: { ...phases } })
      throw Object.assign(new UdxPunchError(detail), { record })
    }
    if (!this.started) fail('none', 'the UDX path is off', {}, 'skipped')
    if (!isRelayed(relayed)) fail('none', 'not a relayed connection', {}, 'skipped')
    const transport = this.transport()
    const main = transport?.mainSocket
    if (transport == null || main == null) fail('none', 'no UDX socket: the node does not listen on UDX', {}, 'skipped')
    if (this.running.has(peer)) fail('none', 'a UDX attempt with this peer is already running', {}, 'skipped')
    const capped = this.takeAttempt(peer)
    if (capped != null) fail('none', capped, {}, 'skipped')
    const controller = new AbortController()
    this.running.set(peer, controller)
    const both = AbortSignal.any([signal, controller.signal])
    let stream: Stream | undefined
    try {
      if (this.report == null) await this.checkMapping()
      const nonce = randomBytes(16).toString('hex')
      const ours = this.ourConnect(nonce)
      base.localNat = ours.nat
      const exchange = AbortSignal.any([both, AbortSignal.timeout(PUNCH_EXCHANGE_TIMEOUT_MS)])
      // the stream, pipelined as the TCP punch does (src/holepunch/holepunch.ts exchangeOnce):
      // multistream-select's header, our protocol and our CONNECT in one write on a fresh muxer
      // stream, instead of a relayed round trip for the protocol's confirmation first; where the
      // connection's muxer is not reachable, the stream is negotiated first as before
      const openedAt = Date.now()
      const muxer = muxerOf(relayed)
      stream = muxer != null ? await muxer.createStream({ signal: exchange }) : await relayed.newStream(UDX_PUNCH_PROTOCOL, { runOnLimitedConnection: true, signal: exchange })
      const lp = lpStream(stream, { maxDataLength: MAX_PUNCH_MESSAGE_BYTES })
      // 1–2: CONNECT each way; the RTT
      const t0 = Date.now()
      phases.streamMs = t0 - openedAt
      if (muxer != null) {
        await lp.writeV([MSS_HEADER, MSS_UDX_PUNCH, encodePunchMessage(ours)], { signal: exchange })
        const header = await lp.read({ signal: exchange })
        if (!equalBytes(header.subarray(), MSS_HEADER)) throw new UdxProtocolError('the peer did not answer with the multistream-select header')
        const proto = await lp.read({ signal: exchange })
        if (!equalBytes(proto.subarray(), MSS_UDX_PUNCH)) throw new UnsupportedProtocolError(`the peer does not speak ${UDX_PUNCH_PROTOCOL}`)
        stream.protocol = UDX_PUNCH_PROTOCOL
      } else {
        await lp.write(encodePunchMessage(ours), { signal: exchange })
      }
      const theirs = decodePunchMessage((await lp.read({ signal: exchange })).subarray())
      const rttMs = Date.now() - t0
      phases.connectRttMs = rttMs
      if (theirs.type !== 'CONNECT') throw new UdxProtocolError('expected CONNECT')
      const keepaliveMs = Math.max(MIN_KEEPALIVE_MS, Math.min(ours.keepaliveMs, theirs.keepaliveMs))
      const extra = { remoteNat: theirs.nat, remoteAddress: theirs.addr, rttMs, keepaliveMs }
      // 3: SYNC, then fire at RTT/2 (B fires when SYNC arrives, half an RTT from now)
      await lp.write(encodePunchMessage({ type: 'SYNC' }), { signal: exchange })
      const plan = this.plan(ours, theirs, relayed.remotePeer)
      if (typeof plan === 'string') return fail(methodFor(ours.nat, theirs.nat).method === 'none' ? 'none' : 'direct', plan, extra, 'skipped')
      // the direct method fires at once: B fires on our CONNECT (PUNCH datagrams open its NAT
      // toward us), so its NAT is open before our HELLO, sent now, can reach it (a relayed
      // half RTT at least); birthday probing keeps DCUtR's RTT/2 so both sides start together
      const syncAt = Date.now()
      if (plan.method === 'birthday') await sleep(rttMs / 2, both)
      phases.syncWaitMs = Date.now() - syncAt
      // the race with DCUtR: a direct connection that came meanwhile wins, no datagram is sent
      if (this.hasDirect(relayed.remotePeer)) return fail(plan.method, 'a direct connection came first (the TCP punch won the race)', extra, 'skipped')
      const fired = AbortSignal.any([both, AbortSignal.timeout(PUNCH_DIRECT_TIMEOUT_MS + (plan.method === 'birthday' ? (this.init.probeCaps ?? DEFAULT_PROBE_CAPS).timeoutMs : 0))])
      const firedAt = Date.now()
      const result = await this.fire(transport!, main!, plan, relayed.remotePeer, true, ours.nonce, keepaliveMs, fired, phases)
        .catch((err: Error) => fail(plan.method, `${plan.method === 'birthday' ? 'birthday probing' : 'direct UDP punch'} to ${theirs.addr ?? '?'} failed: ${err.message}`, { ...extra, ...probeCountsOf(err) }))
      const record = this.record({ ...base, ...extra, method: plan.method, outcome: 'direct', detail: result.connection.remoteAddr.toString(), probes: result.probes, sockets: result.sockets, ms: Date.now() - started, fireMs: Date.now() - firedAt, phases: { ...phases } })
      return { connection: result.connection, record }
    } catch (err) {
      if ((err as { record?: unknown }).record != null) throw err
      return fail('none', `the punch exchange failed: ${(err as Error).message}`)
    } finally {
      if (this.running.get(peer) === controller) this.running.delete(peer)
      if (stream != null && stream.status === 'open') await stream.close().catch(() => { stream?.abort(new Error('closing')) })
    }
  }

  /** The method and target, or why there is no attempt (both sides compute it alike). */
  private hasDirect (peer: PeerId): boolean {
    return this.components.connectionManager.getConnections(peer).some(c => !isRelayed(c) && c.status === 'open')
  }

  private plan (ours: ConnectMessage, theirs: ConnectMessage, peer: PeerId): { method: 'direct' | 'birthday', host: string, port: number, weAreDependent: boolean } | string {
    const m = methodFor(ours.nat, theirs.nat)
    if (m.method === 'none') return m.why ?? 'no method'
    if (this.hasDirect(peer)) return 'a direct connection came first (the TCP punch won the race)'
    if (ours.addr == null) return 'we know no public UDX address of ours (no STUN source answered): see `burrow doctor`'
    // behind the same NAT: a punch would hairpin through our own router; the LAN path is the one
    if (theirs.addr != null && theirs.addr.split(':')[0] === ours.addr.split(':')[0]) return `the peer shares our public IP ${ours.addr.split(':')[0]} (behind the same NAT): no punch through our own router, the LAN address is the path`
    const target = this.theirAddress(theirs.addr)
    if (typeof target === 'string') return target
    return { method: m.method, ...target, weAreDependent: ours.nat === 'endpoint-dependent' }
  }

  /** Step 4 on either side: the datagrams, the handshake and the upgrade. */
  private async fire (transport: UdxTransport, main: NonNullable<UdxTransport['mainSocket']>, plan: { method: 'direct' | 'birthday', host: string, port: number, weAreDependent: boolean }, remotePeer: PeerId, initiator: boolean, nonceHex: string, keepaliveMs: number, signal: AbortSignal, phases: UdxPhases): Promise<{ connection: Connection, probes: number, sockets: number }> {
    if (plan.method === 'direct') {
      const connection = await transport.connectOver(main.socket, plan.host, plan.port, { initiator, remotePeer, signal, keepaliveMs, phases })
      return { connection, probes: 0, sockets: 0 }
    }
    // birthday probes go toward an IP the peer was seen at or, where nobody but the peer says
    // (a stock relay tells neither side what it observed), toward a public unicast IP only
    const refusal = probeTargetRefusal(plan.host, await this.knownIps(remotePeer))
    if (refusal != null) throw new UdxPunchError(refusal)
    const caps = this.init.probeCaps ?? DEFAULT_PROBE_CAPS
    const nonce = Buffer.from(nonceHex, 'hex')
    const won = plan.weAreDependent
      ? await openBirthdaySockets(transport.udx, { host: plan.host, port: plan.port }, nonce, caps, signal, { budget: this.budget })
      : await probeRandomPorts(main.socket, main.demux, plan.host, nonce, caps, signal, { budget: this.budget })
    const connection = await transport.connectOver(won.socket, won.remoteHost, won.remotePort, { initiator, remotePeer, signal, keepaliveMs, phases })
    return { connection, probes: won.probes, sockets: won.sockets }
  }

  /** B: answers one punch stream over a relayed connection. */
  private async respond (stream: Stream, relayed: Connection): Promise<void> {
    const peer = relayed.remotePeer.toString()
    const started = Date.now()
    const phases: UdxPhases = { ...NO_PHASES }
    const base = { peer, role: 'responder' as const, localNat: this.report?.mapping ?? 'unknown' as UdpMapping, remoteNat: null, remoteAddress: null, rttMs: null, probes: 0, sockets: 0, keepaliveMs: null, startedAt: new Date(started).toISOString(), phases }
    const refuse = (why: string): void => {
      this.log('refusing a %s stream from %p: %s', UDX_PUNCH_PROTOCOL, relayed.remotePeer, why)
      stream.abort(new UdxPunchError(why))
    }
    if (!isRelayed(relayed)) { refuse('the UDX punch runs over relayed connections only'); return }
    const transport = this.transport()
    const main = transport?.mainSocket
    if (transport == null || main == null) { refuse('no UDX socket'); return }
    // both ends may start at once: the lower PeerId's own attempt goes on
    if (this.running.has(peer) && this.components.peerId.toString() < peer) { refuse('our own attempt with this peer is running'); return }
    const capped = this.takeAttempt(peer)
    if (capped != null) { refuse(capped); this.record({ ...base, method: 'none', outcome: 'skipped', detail: capped, ms: 0 }); return }
    const controller = new AbortController()
    const own = this.running.get(peer)
    if (own != null) {
      this.takenOver.add(peer)
      own.abort(new UdxPunchError('the peer started its own attempt'))
    }
    this.running.set(peer, controller)
    let extra: Partial<UdxAttemptRecord> = {}
    let method: UdxMethod = 'none'
    try {
      const exchange = AbortSignal.any([controller.signal, AbortSignal.timeout(PUNCH_EXCHANGE_TIMEOUT_MS)])
      const lp = lpStream(stream, { maxDataLength: MAX_PUNCH_MESSAGE_BYTES })
      const theirs = decodePunchMessage((await lp.read({ signal: exchange })).subarray())
      if (theirs.type !== 'CONNECT') throw new UdxProtocolError('expected CONNECT')
      const ours = this.ourConnect(theirs.nonce)
      base.localNat = ours.nat
      const t0 = Date.now()
      await lp.write(encodePunchMessage(ours), { signal: exchange })
      const keepaliveMs = Math.max(MIN_KEEPALIVE_MS, Math.min(ours.keepaliveMs, theirs.keepaliveMs))
      extra = { remoteNat: theirs.nat, remoteAddress: theirs.addr, keepaliveMs }
      const plan = this.plan(ours, theirs, relayed.remotePeer)
      if (typeof plan !== 'string') method = plan.method
      const fireCtl = new AbortController()
      const fired = AbortSignal.any([controller.signal, fireCtl.signal, AbortSignal.timeout(PUNCH_DIRECT_TIMEOUT_MS + PUNCH_EXCHANGE_TIMEOUT_MS + (method === 'birthday' ? (this.init.probeCaps ?? DEFAULT_PROBE_CAPS).timeoutMs : 0))])
      // the direct method opens our NAT at once (PUNCH datagrams, waiting for A's HELLO): A's
      // first HELLO, RTT/2 after its SYNC, then finds the way in open instead of a resend later
      let firedAt = Date.now()
      const early = typeof plan !== 'string' && plan.method === 'direct'
        ? this.fire(transport, main, plan, relayed.remotePeer, false, theirs.nonce, keepaliveMs, fired, phases)
        : undefined
      early?.catch(() => {})
      let sync: PunchMessage
      try {
        sync = decodePunchMessage((await lp.read({ signal: exchange })).subarray())
        if (sync.type !== 'SYNC') throw new UdxProtocolError('expected SYNC')
      } catch (err) {
        fireCtl.abort(err)
        throw err
      }
      extra.rttMs = Date.now() - t0
      phases.connectRttMs = extra.rttMs
      phases.syncWaitMs = 0
      if (typeof plan === 'string') {
        this.record({ ...base, ...extra, method: methodFor(ours.nat, theirs.nat).method === 'none' ? 'none' : 'direct', outcome: 'skipped', detail: plan, ms: Date.now() - started, phases: { ...phases } })
        return
      }
      if (early == null) firedAt = Date.now()
      const result = await (early ?? this.fire(transport, main, plan, relayed.remotePeer, false, theirs.nonce, keepaliveMs, fired, phases))
      this.record({ ...base, ...extra, method, outcome: 'direct', detail: result.connection.remoteAddr.toString(), probes: result.probes, sockets: result.sockets, ms: Date.now() - started, fireMs: Date.now() - firedAt, phases: { ...phases } })
    } catch (err) {
      this.record({ ...base, ...extra, ...probeCountsOf(err), method, outcome: 'failed', detail: (err as Error).message.split('\n')[0] ?? 'failed', ms: Date.now() - started, phases: { ...phases } })
      stream.abort(err as Error)
    } finally {
      if (this.running.get(peer) === controller) this.running.delete(peer)
      if (stream.status === 'open') await stream.close().catch(() => { stream.abort(new Error('closing')) })
    }
  }
}

/** multistream-select 1.0's header and our protocol, each a line (sent length-prefixed) */
const MSS_HEADER = new TextEncoder().encode('/multistream/1.0.0\n')
const MSS_UDX_PUNCH = new TextEncoder().encode(`${UDX_PUNCH_PROTOCOL}\n`)

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i])
}

/**
 * The relayed connection's stream muxer, to open a stream without negotiating it first (as
 * src/holepunch/holepunch.ts does): js-libp2p's Connection keeps it in a field it does not
 * type as public; when a version does not have it there, the caller negotiates as before.
 */
function muxerOf (conn: Connection): StreamMuxer | undefined {
  const muxer = (conn as unknown as { muxer?: StreamMuxer }).muxer
  return muxer != null && typeof muxer.createStream === 'function' && muxer.status === 'open' ? muxer : undefined
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(t); reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

export function udxPunch (init: UdxPunchInit): (components: UdxPunchComponents) => UdxPunchService {
  return (components) => new UdxPunchService(components, init)
}

/**
 * Why birthday probing must not aim at `host`, or null when it may. An IP the peer was seen at
 * (identify, the peer store) always may. Otherwise the address is the peer's own STUN claim,
 * made over an authenticated relayed connection after the peer asked: a stock js-libp2p relay
 * tells neither side what it observed, and a peer behind an endpoint-dependent NAT cannot prove
 * the IP before the hit (the hit is the proof). So that claim is accepted only for a public
 * unicast IP: never loopback, private, link-local, multicast, broadcast or unspecified, and the
 * probe caps (per attempt, per node) bound what a lying peer could aim at someone else.
 */
export function probeTargetRefusal (host: string, seen: ReadonlySet<string>): string | null {
  if (seen.has(host)) return null
  // a peer that announces public addresses is probed only there
  if (seen.size > 0) return `the peer's STUN address ${host} is not an IP it was seen at (${[...seen].slice(0, 3).join(', ')}: identify, the peer store): no probes sent`
  if (classifyIp(host) !== 'public') return `the peer's STUN address ${host} is not an IP it was seen at (identify, the peer store) and not a public unicast IP: no probes sent`
  return null
}

/** A failed attempt's record still counts the probes sent and the sockets opened. */
function probeCountsOf (err: unknown): { probes?: number, sockets?: number } {
  return err instanceof UdxProbeError ? { probes: err.probes, sockets: err.sockets } : {}
}
