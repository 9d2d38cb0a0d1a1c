import { randomBytes } from 'node:crypto'
import { TypedEventEmitter, UnsupportedProtocolError, serviceDependencies } from '@libp2p/interface'
import { byteStream, lpStream, pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { HolePunch } from './pb/holepunch.js'
import { bothFast, FAST_UPGRADE_VERSION } from './fast-upgrade.js'
import type { PunchDialOptions, PunchUpgrade } from './fast-upgrade.js'
import {
  DCUTR_PROTOCOL, EXCHANGE_TIMEOUT_MS, MAX_ADDRESSES, MAX_ATTEMPTS, MAX_DIAL_ADDRESSES,
  MAX_MESSAGE_BYTES, MAX_RECEIVED_ADDRESSES, MAX_TRACKED_PEERS, PING_PROTOCOL, PUNCH_DIAL_TIMEOUT_MS,
  PUNCH_ROUNDS_PER_MINUTE, RELAYED_CLOSE_GRACE_MS, RESPONDER_WINDOW_MS, SUPERSEDE_WAIT_MS
} from './constants.js'
import { isDirect, isRelayed, isRelayedAddress, triesOf, UpgradeAttemptError } from '../connections/index.js'
import type { PathUpgradeService, UpgradeAttempt, UpgradeStrategy } from '../connections/index.js'
import { classifyIp, ipOf, peerSuppliedRefusal } from '../dial-policy/index.js'
import type { PrivatePolicy } from '../dial-policy/index.js'
import type { ObservedAddresses, MappingBehaviour } from '../nat/index.js'
import type { Connection, ConnectionGater, Libp2pEvents, PeerId, Stream, StreamMuxer, Startable, TypedEventTarget, Logger, ComponentLogger } from '@libp2p/interface'
import type { AddressManager, ConnectionManager, Registrar, TransportManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Our part in the security handshake and muxer of the punched connection. */
export type HandshakeRole = 'initiator' | 'responder'

/**
 * Where an attempt's time went, in ms (null: not reached, or not this role's phase). B
 * (initiator): stream → CONNECT round trip → SYNC wait (RTT/2) → simultaneous open →
 * upgrade (Noise, then yamux). A (responder): its CONNECT sent → SYNC read (connectRttMs),
 * then dials at once.
 */
export interface HolePunchPhases {
  /** B: opening the DCUtR stream over the relay before CONNECT could go (≈ 0: CONNECT is pipelined with multistream-select) */
  streamMs: number | null
  /** B: CONNECT sent → the peer's CONNECT read; A: our CONNECT sent → SYNC read */
  connectRttMs: number | null
  /** B: SYNC sent → the punch dial (RTT/2); A: 0 */
  syncWaitMs: number | null
  /** punch dial → the TCP connection up (simultaneous open) */
  openMs: number | null
  /** TCP up → the connection upgraded: Noise (with its multistream-select) and yamux (secureMs + muxMs) */
  upgradeMs: number | null
  /** TCP up → Noise done, with its multistream-select (none on the fast upgrade's initiator side) */
  secureMs: number | null
  /** Noise done → the muxer chosen: 0 when yamux needs no negotiation (the fast upgrade, or Noise's early muxer negotiation) */
  muxMs: number | null
}

export interface HolePunchAttempt {
  peer: string
  /**
   * Our DCUtR role: 'initiator' is the spec's B (the inbound side of the relayed
   * connection, which sends the first CONNECT); 'responder' is A (dialled the relayed
   * connection, answers).
   */
  role: 'initiator' | 'responder'
  attempt: number
  startedAt: string
  rttMs: number | null
  durationMs: number
  outcome: 'direct' | 'failed'
  /** the address the direct connection reached, or why the attempt failed */
  detail: string
  /** ms from the relayed connection's opening to the end of this attempt */
  sinceRelayedMs: number
  /**
   * Our role in the punched connection's Noise handshake and muxer: the one we took
   * ('initiator' = client), read off the connection's direction when it came up.
   */
  handshake: HandshakeRole
  /** where the time went (see HolePunchPhases) */
  phases: HolePunchPhases
  /**
   * How the punched connection was (or was to be) upgraded: 'fast' when both CONNECTs asked
   * for burrow's fast upgrade (both ends are burrow: lazy /noise select, yamux without
   * negotiation), 'standard' otherwise (the libp2p upgrade any peer speaks).
   */
  upgrade: 'fast' | 'standard'
}

export interface HolePunchEvents {
  /** an attempt begins: B sends its CONNECT, or A read one */
  'holepunch:started': CustomEvent<{ peer: string, role: 'initiator' | 'responder', attempt: number }>
  'holepunch:attempt': CustomEvent<HolePunchAttempt>
  'holepunch:succeeded': CustomEvent<HolePunchAttempt>
  'holepunch:failed': CustomEvent<{ peer: string, reason: string }>
}

export interface HolePunchComponents {
  registrar: Registrar
  transportManager: TransportManager
  connectionManager: ConnectionManager
  addressManager: AddressManager
  connectionGater?: ConnectionGater
  events: TypedEventTarget<Libp2pEvents>
  peerId: PeerId
  /** the path module's state machine: this punch is its 'tcp' strategy, and it keeps the backoff and the log */
  pathUpgrade: Pick<PathUpgradeService, 'addStrategy' | 'machine'>
  logger: ComponentLogger
}

export interface HolePunchInit {
  observed: ObservedAddresses
  /** our NAT's mapping behaviour, to explain a failure */
  mapping: () => MappingBehaviour
  /** which private addresses may be dialled (src/dial-policy); punch dials add their own stricter rules */
  privatePolicy: PrivatePolicy
  /** false: neither start nor answer DCUtR (config `holePunch: false`); default true */
  enabled?: boolean
  /**
   * false: never ask for burrow's fast upgrade of the punched connection (our CONNECT
   * leaves the field out, so both ends take the standard upgrade); default true
   */
  fastUpgrade?: boolean
}

/** One exchange's outcome as B: their usable addresses and the RTT, or why there are none. */
interface Exchange { theirs: Multiaddr[], refused: string[], rttMs: number, startedAt: number, streamMs: number, fast: boolean, syncSentAt: number }

/**
 * Direct Connection Upgrade through Relay over TCP, step by step as
 * libp2p/specs relay/DCUtR.md describes it.
 *
 * Roles (the spec, go-libp2p ≥ 0.41, rust-libp2p): A — the peer that dialled the relayed
 * connection and answers the DCUtR stream — is the client of the simultaneous open
 * (Noise initiator, yamux client); B — the inbound side, which sends the first CONNECT —
 * is the server. On the last of the 3 attempts both sides swap to the legacy roles
 * (go ≤ 0.40 and burrow 0.1: B client, A server), as go-libp2p ≥ 0.48 does, so a legacy
 * peer still goes direct. B opens a new stream per attempt (go, rust); A counts the
 * exchanges a peer has had, on any number of streams, so it knows the last attempt and
 * also answers a legacy peer that retries on one stream. Between two burrow peers (both
 * CONNECTs carry FAST_UPGRADE_VERSION) the punched connection gets the fast upgrade
 * (fast-upgrade.ts) with B the client on every attempt (FAST_ROLES).
 *
 * What stock js-libp2p lacks, and burrow adds:
 * - our CONNECT carries the public TCP address peers observed for our one dial port
 *   (stock identify drops TCP observed addresses, js-libp2p #2620);
 * - the punch dial goes to the transport manager directly, so the server side's
 *   `initiator: false` reaches the upgrader (the stock dial queue drops per-dial options);
 *   the connection gater is asked here, since that path skips it.
 *
 * Hostile peers (docs/DESIGN.md, Security rules): answered only over relayed connections
 * we dialled, at most 3 exchanges per peer per 10 minutes, every address a peer sends
 * passes the dial policy (no unspecified, loopback, link-local, multicast or IPv4-mapped
 * address; private ones only on our own subnets and only where allowed), at most 4
 * dialled per attempt, and at most 120 punch rounds a minute in all.
 */
export class HolePunchService extends TypedEventEmitter<HolePunchEvents> implements Startable {
  private readonly components: HolePunchComponents
  private readonly init: HolePunchInit
  /** the stream we are answering, per peer (a newer one replaces it) */
  private readonly answering = new Map<string, Stream>()
  /** exchanges answered per peer in the current window */
  private readonly answered = new Map<string, { count: number, since: number }>()
  /** peers seen taking the legacy roles (go ≤ 0.40, burrow 0.1) */
  private readonly legacyPeers = new Set<string>()
  /** the punch dialling right now, per peer (a newer attempt aborts it) */
  private readonly punches = new Map<string, { controller: AbortController, done: Promise<void> }>()
  /** start times of the punch rounds of the last minute */
  private readonly rounds: number[] = []
  private started = false
  /**
   * This punch as the path module's 'tcp' strategy: the state machine starts it for a
   * relayed connection we received (spec step 0: the inbound side is B and starts), keeps
   * its backoff, last failure and attempt log.
   */
  readonly strategy: UpgradeStrategy

  private readonly log: Logger

  constructor (components: HolePunchComponents, init: HolePunchInit) {
    super()
    this.log = components.logger.forComponent('burrow:holepunch')
    this.components = components
    this.init = init
    this.strategy = {
      name: 'tcp',
      applicable: (relayed) => {
        if (relayed.direction !== 'inbound') return 'the peer that received the relayed connection starts the TCP punch (DCUtR); we answer it'
        if (this.answering.has(relayed.remotePeer.toString())) return 'the peer runs a DCUtR exchange with us already; we answer it'
        return undefined
      },
      attempt: async (relayed, signal) => this.initiate(relayed, signal)
    }
  }

  readonly [Symbol.toStringTag] = 'burrow:holepunch'
  readonly [serviceDependencies]: string[] = ['@burrow/path-upgrade']

  async start (): Promise<void> {
    if (this.started || this.init.enabled === false) return
    await this.components.registrar.handle(DCUTR_PROTOCOL, (stream, conn) => {
      void this.respond(stream, conn).catch(err => { this.log('answering %p failed - %e', conn.remotePeer, err) })
    }, { runOnLimitedConnection: true, maxInboundStreams: 4, maxOutboundStreams: 4 })
    this.components.pathUpgrade.addStrategy(this.strategy)
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    await this.components.registrar.unhandle(DCUTR_PROTOCOL)
    for (const s of this.answering.values()) s.abort(new Error('stopping'))
    this.answering.clear()
    this.started = false
  }

  /**
   * Spec steps 1–6, as B: a new stream per attempt, as go-libp2p and rust-libp2p open them.
   * Resolves with the direct connection; rejects with the reason (UpgradeAttemptError,
   * `quiet` when nothing failed: the peer took over, or the connection went away).
   */
  private async initiate (relayed: Connection, signal?: AbortSignal): Promise<{ connection: Connection, record: Record<string, unknown> }> {
    const peer = relayed.remotePeer
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      // the path module stopped this upgrade (the peer left, another strategy won): no new exchange
      if (signal?.aborted === true) throw signal.reason
      const direct = this.directConnection(peer)
      if (direct != null) return { connection: direct, record: { attempts: attempt - 1 } }
      if (this.answering.has(peer.toString())) throw new UpgradeAttemptError('the peer started its own DCUtR exchange; we answer it', {}, { quiet: true })
      if (relayed.status !== 'open') throw new UpgradeAttemptError('the relayed connection closed', {}, { quiet: true })
      const ours = this.ourAddresses()
      if (ours.length === 0) {
        throw this.fail(peer, 'no public address of ours is known yet (no peer has observed our connections)')
      }
      this.safeDispatchEvent('holepunch:started', { detail: { peer: peer.toString(), role: 'initiator', attempt } })
      let ex: Exchange | undefined
      try {
        ex = await this.exchangeAsB(relayed, ours, attempt)
      } catch (err) {
        const direct = this.directConnection(peer)
        if (direct != null) return { connection: direct, record: { attempts: attempt } }
        if (this.answering.has(peer.toString())) throw new UpgradeAttemptError('the peer started its own DCUtR exchange; we answer it', {}, { quiet: true })
        const e = err as Error
        const reason = e.name === 'UnsupportedProtocolError'
          ? `the peer does not speak ${DCUTR_PROTOCOL}`
          : `the ${DCUTR_PROTOCOL} exchange failed: ${firstLine(e.message)}`
        throw this.fail(peer, reason)
      }
      if (ex === undefined) {
        const direct = this.directConnection(peer)
        if (direct != null) return { connection: direct, record: { attempts: attempt } }
        throw new UpgradeAttemptError('the peer started its own DCUtR exchange; we answer it', {}, { quiet: true })
      }
      if (ex.theirs.length === 0) {
        const detail = `the peer sent no address we may dial${ex.refused.length > 0 ? ` (${ex.refused.slice(0, 4).join('; ')})` : ''}`
        this.record(peer, 'initiator', attempt, ex.startedAt, ex.rttMs, 'failed', detail, relayed, ex.fast ? FAST_ROLES.b : this.roleAsB(attempt, peer.toString()), { ...NO_PHASES, streamMs: ex.streamMs, connectRttMs: ex.rttMs }, ex.fast)
        throw this.fail(peer, detail)
      }
      // 4: SYNC is sent; wait half the RTT from its write so both dials leave at the same moment
      const syncSentAt = ex.syncSentAt
      await sleep(Math.max(0, syncSentAt + ex.rttMs / 2 - Date.now()))
      // 5: simultaneous connect — B is the server, except on the last attempt (legacy roles);
      // with the fast upgrade B is the client (FAST_ROLES)
      const role: HandshakeRole = ex.fast ? FAST_ROLES.b : this.roleAsB(attempt, peer.toString())
      const dialAt = Date.now()
      const upgrade: PunchUpgrade = { fast: ex.fast }
      const result = await this.punch(peer, ex.theirs, role, upgrade)
      const phases = { ...dialPhases(dialAt, result, upgrade), streamMs: ex.streamMs, connectRttMs: ex.rttMs, syncWaitMs: dialAt - syncSentAt }
      if (typeof result !== 'string') {
        this.record(peer, 'initiator', attempt, ex.startedAt, ex.rttMs, 'direct', result.remoteAddr.toString(), relayed, roleOf(result), phases, ex.fast)
        await this.migrate(relayed, result)
        return { connection: result, record: { attempts: attempt } }
      }
      this.record(peer, 'initiator', attempt, ex.startedAt, ex.rttMs, 'failed', result, relayed, role, phases, ex.fast)
      if (!ex.fast) this.learnRoles(peer.toString(), role, result)
      // 6: retry on a new stream
    }
    throw this.fail(peer, this.explainFailure())
  }

  /**
   * B's role in attempt n: the server, or the client on the last attempt (go ≥ 0.48's
   * fallback) — or at once when an earlier attempt showed the peer takes the legacy roles.
   */
  private roleAsB (attempt: number, peer: string): HandshakeRole {
    return attempt === MAX_ATTEMPTS || this.legacyPeers.has(peer) ? 'initiator' : 'responder'
  }

  /**
   * A failed attempt whose TCP connection did come up tells the peer's role: our Noise
   * initiator met another initiator ("handshake stage 1 validation fail": a legacy B is the
   * client), or our multistream listener saw the stream end (both ends listening: a legacy A
   * is the server). The next attempt then takes the legacy roles at once instead of waiting
   * for the last one — each retry on the same 4-tuple is another chance for a NAT's
   * conntrack to hold the old connection's CLOSE state against the new SYN.
   */
  private learnRoles (peer: string, role: HandshakeRole, failure: string): void {
    const peerIsClient = role === 'initiator' && /handshake stage 1 validation fail|both endpoints are clients/i.test(failure)
    const peerIsServer = role === 'responder' && /Unexpected EOF - stream closed while reading/i.test(failure)
    if (!peerIsClient && !peerIsServer) return
    this.legacyPeers.delete(peer)
    this.legacyPeers.add(peer)
    while (this.legacyPeers.size > MAX_TRACKED_PEERS) {
      const oldest = this.legacyPeers.values().next().value
      if (oldest === undefined) break
      this.legacyPeers.delete(oldest)
    }
    this.log('%s takes the legacy DCUtR roles (%s): the next attempt uses them', peer, peerIsClient ? 'it dialled as the client' : 'it waited as the server')
  }

  /**
   * Steps 1–4 on a new stream: CONNECT with our addresses, their CONNECT, SYNC.
   * A stream the peer refuses right after an earlier attempt (a legacy answerer still
   * busy with it) is tried once more a second later.
   */
  private async exchangeAsB (relayed: Connection, ours: Multiaddr[], attempt: number): Promise<Exchange | undefined> {
    try {
      return await this.exchangeOnce(relayed, ours)
    } catch (err) {
      if (this.answering.has(relayed.remotePeer.toString()) || this.directConnection(relayed.remotePeer) != null) return undefined
      if (attempt === 1 || (err as Error).name === 'UnsupportedProtocolError') throw err
      await sleep(1_000)
      return this.exchangeOnce(relayed, ours)
    }
  }

  /**
   * Steps 1–4 with CONNECT pipelined: the multistream-select header, the protocol and our
   * CONNECT go out in one write, without waiting a round trip over the relay for the
   * protocol to be confirmed (multistream-select lets a dialler that proposes one protocol
   * send its data right after it; the listener reads them in order). Where the
   * connection's muxer is not reachable, the stream is negotiated first as before.
   */
  private async exchangeOnce (relayed: Connection, ours: Multiaddr[]): Promise<Exchange> {
    const signal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS)
    const openedAt = Date.now()
    const muxer = muxerOf(relayed)
    const pipelined = muxer != null
    const stream = pipelined ? await muxer.createStream({ signal }) : await relayed.newStream(DCUTR_PROTOCOL, { runOnLimitedConnection: true, signal })
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES })
    try {
      const startedAt = Date.now()
      const connect = HolePunch.encode({ type: HolePunch.Type.CONNECT, ObsAddrs: ours.map(a => a.bytes), ...this.fastField() })
      // 1–2: CONNECT with our observed addresses; the RTT timer starts
      if (pipelined) {
        await lp.writeV([MSS_HEADER, MSS_DCUTR, connect], { signal })
        const header = await lp.read({ signal })
        if (!equalBytes(header.subarray(), MSS_HEADER)) throw new Error('the peer did not answer with the multistream-select header')
        const proto = await lp.read({ signal })
        if (!equalBytes(proto.subarray(), MSS_DCUTR)) throw new UnsupportedProtocolError(`the peer does not speak ${DCUTR_PROTOCOL}`)
        stream.protocol = DCUTR_PROTOCOL
      } else {
        await lp.write(connect, { signal })
      }
      // 3: their CONNECT
      const reply = HolePunch.decode(await lp.read({ signal }))
      const rttMs = Date.now() - startedAt
      if (reply.type !== HolePunch.Type.CONNECT) throw new Error(`expected CONNECT, got ${String(reply.type)}`)
      const { usable, refused } = this.usable(relayed.remotePeer.toString(), reply.ObsAddrs)
      // 4: SYNC
      await lp.write(HolePunch.encode({ type: HolePunch.Type.SYNC, ObsAddrs: [] }), { signal })
      const syncSentAt = Date.now()
      // the stream's close runs on while we wait for the dial moment
      void stream.close({ signal }).catch(() => { stream.abort(new Error('closing')) })
      return { theirs: usable, refused, rttMs, startedAt, streamMs: startedAt - openedAt, fast: bothFast(this.fastField().burrowUpgrade, reply.burrowUpgrade), syncSentAt }
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  /**
   * Spec steps 3 and 5, as A. Answered only over a relayed connection we dialled; each
   * exchange counts against the peer's MAX_ATTEMPTS per window, whatever stream it comes
   * on; a new stream from the peer replaces one still open.
   */
  private async respond (stream: Stream, relayed: Connection): Promise<void> {
    const peer = relayed.remotePeer
    const id = peer.toString()
    const refuse = (why: string): void => {
      this.log('refusing a %s stream from %p: %s', DCUTR_PROTOCOL, peer, why)
      stream.abort(new Error(why))
    }
    if (!isRelayed(relayed)) { refuse('DCUtR runs over relayed connections only'); return }
    if (relayed.direction !== 'outbound') { refuse('we did not dial this relayed connection (the spec\'s A dials it)'); return }
    const machine = this.components.pathUpgrade.machine
    if (machine.backedOff(id, 'tcp')) { refuse('an upgrade with this peer failed lately'); return }
    // both ends may start at once (a relayed connection each way): the lower PeerId's
    // own upgrade goes on, the other side's stream is refused
    if (machine.attempting(id, 'tcp') && this.components.peerId.toString() < id) { refuse('an upgrade with this peer is already running'); return }
    const previous = this.answering.get(id)
    this.answering.set(id, stream)
    previous?.abort(new Error('a newer stream from the peer replaced this one'))
    try {
      await this.answerExchanges(stream, relayed)
    } finally {
      if (this.answering.get(id) === stream) this.answering.delete(id)
      if (stream.status === 'open') await stream.close().catch(() => { stream.abort(new Error('closing')) })
    }
  }

  private async answerExchanges (stream: Stream, relayed: Connection): Promise<void> {
    const peer = relayed.remotePeer
    const id = peer.toString()
    const pb = pbStream(stream, { maxDataLength: MAX_MESSAGE_BYTES }).pb(HolePunch)
    // a legacy B sends its retries on the same stream: read until it ends
    while (true) {
      let connect: HolePunch
      try {
        connect = await pb.read({ signal: AbortSignal.timeout(EXCHANGE_TIMEOUT_MS + PUNCH_DIAL_TIMEOUT_MS) })
      } catch {
        return // B is done (success, it gave up, or it moved to a new stream)
      }
      const startedAt = Date.now()
      if (connect.type !== HolePunch.Type.CONNECT) throw new Error(`expected CONNECT, got ${String(connect.type)}`)
      const attempt = this.countExchange(id)
      if (attempt > MAX_ATTEMPTS) {
        stream.abort(new Error(`more than ${MAX_ATTEMPTS} exchanges within ${RESPONDER_WINDOW_MS / 60_000} minutes`))
        this.failAnswering(peer, `the peer asked for more than ${MAX_ATTEMPTS} hole punch attempts: backed off`)
        return
      }
      // B's RTT, and so its SYNC wait, counts the time until our CONNECT is written: the
      // 'started' event's listeners run after it
      const started = (): void => { this.safeDispatchEvent('holepunch:started', { detail: { peer: id, role: 'responder', attempt } }) }
      const ours = this.ourAddresses()
      if (ours.length === 0) {
        started()
        // go-libp2p resets the stream when it has nothing to offer: so do we
        stream.abort(new Error('no public address of ours is known yet'))
        this.record(peer, 'responder', attempt, startedAt, null, 'failed', 'no public address of ours to offer', relayed, this.roleAsA(attempt, id), NO_PHASES, false)
        return
      }
      const { usable: theirs, refused } = this.usable(id, connect.ObsAddrs)
      if (theirs.length === 0) {
        // nothing we may dial: reset without sending our addresses, as go-libp2p's A does
        const detail = `the peer sent no address we may dial${refused.length > 0 ? ` (${refused.slice(0, 4).join('; ')})` : ''}`
        started()
        stream.abort(new Error(detail))
        this.record(peer, 'responder', attempt, startedAt, null, 'failed', detail, relayed, this.roleAsA(attempt, id), NO_PHASES, false)
        return
      }
      const signal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS)
      const connectSentAt = Date.now()
      const ourField = this.fastField()
      await pb.write({ type: HolePunch.Type.CONNECT, ObsAddrs: ours.map(a => a.bytes), ...ourField }, { signal })
      started()
      const sync = await pb.read({ signal })
      if (sync.type !== HolePunch.Type.SYNC) throw new Error(`expected SYNC, got ${String(sync.type)}`)
      const rttMs = Date.now() - startedAt
      // 5: dial at once on SYNC — A is the client, except on the last attempt (legacy roles);
      // both CONNECTs asked for the fast upgrade: both ends are burrow and upgrade alike, A
      // as the server (FAST_ROLES)
      const upgrade: PunchUpgrade = { fast: bothFast(ourField.burrowUpgrade, connect.burrowUpgrade) }
      const role: HandshakeRole = upgrade.fast ? FAST_ROLES.a : this.roleAsA(attempt, id)
      const dialAt = Date.now()
      const result = await this.punch(peer, theirs, role, upgrade)
      const phases = { ...dialPhases(dialAt, result, upgrade), streamMs: null, connectRttMs: dialAt - connectSentAt, syncWaitMs: 0 }
      if (typeof result !== 'string') {
        this.record(peer, 'responder', attempt, startedAt, rttMs, 'direct', result.remoteAddr.toString(), relayed, roleOf(result), phases, upgrade.fast)
        this.answered.delete(id)
        await this.migrate(relayed, result)
        return
      }
      this.record(peer, 'responder', attempt, startedAt, rttMs, 'failed', result, relayed, role, phases, upgrade.fast)
      if (!upgrade.fast) this.learnRoles(id, role, result)
      if (attempt === MAX_ATTEMPTS) this.failAnswering(peer, this.explainFailure())
    }
  }

  /** A's role in exchange n: the client, or the server on the last one or once the peer showed the legacy roles. */
  private roleAsA (attempt: number, peer: string): HandshakeRole {
    return attempt === MAX_ATTEMPTS || this.legacyPeers.has(peer) ? 'responder' : 'initiator'
  }

  /** Counts one more exchange with a peer in its window; returns its number (1-based). */
  private countExchange (id: string): number {
    const now = Date.now()
    let entry = this.answered.get(id)
    if (entry == null || now - entry.since > RESPONDER_WINDOW_MS) {
      entry = { count: 0, since: now }
      this.answered.delete(id)
      this.answered.set(id, entry)
      while (this.answered.size > MAX_TRACKED_PEERS) {
        const oldest = this.answered.keys().next().value
        if (oldest === undefined) break
        this.answered.delete(oldest)
      }
    }
    entry.count++
    return entry.count
  }

  /** Whether the global punch budget has room for one more round (and takes it). */
  private takeRound (): boolean {
    const now = Date.now()
    while (this.rounds.length > 0 && now - (this.rounds[0] ?? 0) > 60_000) this.rounds.shift()
    if (this.rounds.length >= PUNCH_ROUNDS_PER_MINUTE) return false
    this.rounds.push(now)
    return true
  }

  /**
   * Dials every address at once from the stable dial port, straight through the
   * transport manager (not the dial queue, which would drop `initiator`); the connection
   * gater is asked first, as the dial queue would have. Resolves with the first
   * connection, or a one-line reason.
   */
  private async punch (peer: PeerId, addrs: Multiaddr[], role: HandshakeRole, upgrade: PunchUpgrade): Promise<Connection | string> {
    // a newer attempt supersedes a punch still dialling: a peer whose own dial failed fast
    // (both ends clients: Noise fails at once) retries while ours still waits for a SYN, and
    // the dial port holds one connection attempt per address — so the old one yields
    const id = peer.toString()
    const previous = this.punches.get(id)
    if (previous != null) {
      previous.controller.abort(new Error('a newer attempt with this peer took over'))
      await Promise.race([previous.done, sleep(SUPERSEDE_WAIT_MS)])
    }
    const controller = new AbortController()
    const run = this.punchNow(peer, addrs, role, upgrade, controller.signal)
    const entry = { controller, done: run.then(() => {}, () => {}) }
    this.punches.set(id, entry)
    try {
      return await run
    } finally {
      if (this.punches.get(id) === entry) this.punches.delete(id)
    }
  }

  private async punchNow (peer: PeerId, addrs: Multiaddr[], role: HandshakeRole, upgrade: PunchUpgrade, signal: AbortSignal): Promise<Connection | string> {
    if (!this.takeRound()) return `more than ${PUNCH_ROUNDS_PER_MINUTE} punch rounds in the last minute: this one was skipped`
    const allowed: Multiaddr[] = []
    for (const a of addrs) {
      if (await this.components.connectionGater?.denyDialMultiaddr?.(a) !== true) allowed.push(a)
    }
    if (allowed.length === 0) return 'the connection gater denied every address the peer sent'
    // one controller per address: the transport may keep listening to a dial's signal
    // after the connection is up, so the winner's signal must never fire
    const dials = allowed.map(addr => ({ addr, controller: new AbortController(), done: false }))
    const timer = setTimeout(() => {
      for (const d of dials) if (!d.done) d.controller.abort(new Error(`no answer within ${PUNCH_DIAL_TIMEOUT_MS} ms`))
    }, PUNCH_DIAL_TIMEOUT_MS)
    const onAbort = (): void => { for (const d of dials) if (!d.done) d.controller.abort(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    const errors: string[] = []
    try {
      return await Promise.any(dials.map(async (d) => {
        const target = d.addr.encapsulate(`/p2p/${peer.toString()}`)
        try {
          // punch: leave from the dial port or not at all (stable-port TCP); burrowPunch: the fast upgrade's terms
          const options: PunchDialOptions & { signal: AbortSignal, initiator?: boolean, punch: true } = { signal: d.controller.signal, initiator: role === 'initiator' ? undefined : false, punch: true, burrowPunch: upgrade }
          const conn = await this.components.transportManager.dial(target, options as Parameters<TransportManager['dial']>[1])
          d.done = true
          for (const other of dials) if (other !== d && !other.done) other.controller.abort(new Error('another address answered'))
          return conn
        } catch (err) {
          d.done = true
          errors.push(`${d.addr.toString()}: ${firstLine((err as Error).message)}`)
          throw err
        }
      }))
    } catch {
      // the other side's dial may have won the race: a TCP connection to the peer's WAN address
      const existing = this.components.connectionManager.getConnections(peer)
        .find(c => isDirect(c) && c.status === 'open' && allowed.some(a => c.remoteAddr.toString().startsWith(a.toString())))
      if (existing != null) return existing
      return errors.length > 0 ? errors.join('; ') : 'no dial finished'
    } finally {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
    }
  }

  /**
   * The direct connection becomes the one new streams use; the relayed one is closed
   * once the direct one carried a ping (spec: "closed after a grace period").
   */
  private async migrate (relayed: Connection, direct: Connection): Promise<void> {
    try {
      await pingOver(direct)
    } catch (err) {
      this.log('the direct connection to %p did not carry a ping - %e', relayed.remotePeer, err)
      return
    }
    setTimeout(() => {
      if (relayed.status === 'open' && direct.status === 'open') {
        void relayed.close().catch(() => {})
      }
    }, RELAYED_CLOSE_GRACE_MS).unref()
  }

  /** Our upgrade as B failed: said once (event and log); the path module keeps the reason and the backoff. */
  private fail (peer: PeerId, reason: string): UpgradeAttemptError {
    this.log('no direct connection to %p: %s', peer, reason)
    this.safeDispatchEvent('holepunch:failed', { detail: { peer: peer.toString(), reason } })
    return new UpgradeAttemptError(reason)
  }

  /** Answering the peer's exchanges (A) ended in failure: the path module backs the peer off. */
  private failAnswering (peer: PeerId, reason: string): void {
    this.components.pathUpgrade.machine.peerFailed(peer.toString(), 'tcp', reason)
    this.log('no direct connection to %p: %s', peer, reason)
    this.safeDispatchEvent('holepunch:failed', { detail: { peer: peer.toString(), reason } })
  }

  private explainFailure (): string {
    if (this.init.mapping() === 'endpoint-dependent') {
      return 'our NAT is symmetric (endpoint-dependent mapping): each destination sees another public port, so a hole punch cannot meet; messages stay on the relay'
    }
    return `${MAX_ATTEMPTS} hole punch attempts failed: the peer's NAT is likely symmetric or filters TCP simultaneous open; messages stay on the relay`
  }

  private record (peer: PeerId, role: 'initiator' | 'responder', attempt: number, startedAt: number, rttMs: number | null, outcome: 'direct' | 'failed', detail: string, relayed: Connection, handshake: HandshakeRole, phases: HolePunchPhases, fast: boolean): void {
    const now = Date.now()
    const rec: HolePunchAttempt = { peer: peer.toString(), role, attempt, startedAt: new Date(startedAt).toISOString(), rttMs, durationMs: now - startedAt, outcome, detail, sinceRelayedMs: now - relayed.timeline.open, handshake, phases, upgrade: fast ? 'fast' : 'standard' }
    this.components.pathUpgrade.machine.logTry(rec.peer, 'tcp', startedAt, outcome, detail, rec)
    this.log('attempt %d with %p as %s (handshake %s, %s upgrade): %s (%s)', attempt, peer, role, handshake, rec.upgrade, outcome, detail)
    this.safeDispatchEvent('holepunch:attempt', { detail: rec })
    if (outcome === 'direct') this.safeDispatchEvent('holepunch:succeeded', { detail: rec })
  }

  /** Our CONNECT's burrow extension: the fast upgrade's version, unless it is switched off. */
  private fastField (): { burrowUpgrade?: number } {
    return this.init.fastUpgrade === false ? {} : { burrowUpgrade: FAST_UPGRADE_VERSION }
  }

  /** Public TCP addresses peers observed for our dial port, the best agreed first, then announced ones. */
  private ourAddresses (): Multiaddr[] {
    const out: Multiaddr[] = []
    for (const c of this.init.observed.candidates()) {
      out.push(multiaddr(`/${c.ip.includes(':') ? 'ip6' : 'ip4'}/${c.ip}/tcp/${c.port}`))
    }
    for (const a of this.components.addressManager.getAddresses()) {
      if (isRelayedAddress(a) || !a.toString().includes('/tcp/')) continue
      const ip = ipOf(a)
      const kind = ip == null ? 'invalid' : classifyIp(ip.ip)
      if (kind !== 'public' && !(kind === 'private' && this.init.privatePolicy !== 'none')) continue
      out.push(a.decapsulateCode(421))
    }
    const seen = new Set<string>()
    return out.filter(a => { const k = a.toString(); if (seen.has(k)) return false; seen.add(k); return true }).slice(0, MAX_ADDRESSES)
  }

  /**
   * What we may dial of what a peer sent: plain TCP (`/ip4|ip6/X/tcp/P`, optionally
   * `/p2p/ITS-ID`; no circuit)
   * that passes the dial policy for peer-supplied addresses — filtered first, then cut
   * to MAX_DIAL_ADDRESSES, so QUIC or WebRTC entries ahead of the TCP ones crowd nothing out.
   */
  private usable (peer: string, raw: Uint8Array[]): { usable: Multiaddr[], refused: string[] } {
    const usable: Multiaddr[] = []
    const refused: string[] = []
    for (const bytes of raw.slice(0, MAX_RECEIVED_ADDRESSES)) {
      let ma: Multiaddr
      try {
        ma = multiaddr(bytes)
      } catch {
        continue
      }
      const parts = ma.getComponents()
      // a trailing /p2p/ID (identify's observed addresses carry one) must name the peer itself
      const last = parts.at(-1)
      if (last?.name === 'p2p') {
        if (last.value !== peer) { refused.push(`${ma.toString()}: names another peer`); continue }
        parts.pop()
        ma = ma.decapsulateCode(421)
      }
      if (parts.length !== 2 || (parts[0]?.name !== 'ip4' && parts[0]?.name !== 'ip6') || parts[1]?.name !== 'tcp') continue
      const port = Number(parts[1].value)
      if (!Number.isInteger(port) || port < 1 || port > 65535) { refused.push(`${ma.toString()}: port ${port}`); continue }
      const why = peerSuppliedRefusal(ma, this.init.privatePolicy)
      if (why != null) { refused.push(`${ma.toString()}: ${why}`); continue }
      if (!usable.some(u => u.equals(ma))) usable.push(ma)
    }
    if (refused.length > 0) this.log('refused addresses from a CONNECT: %s', refused.join('; '))
    return { usable: usable.slice(0, MAX_DIAL_ADDRESSES), refused }
  }

  private directConnection (peer: PeerId): Connection | undefined {
    return this.components.connectionManager.getConnections(peer).find(c => c.status === 'open' && isDirect(c))
  }
}

/**
 * Our role in a connection's upgrade, read off the connection: a punch dial that acted as
 * the server was turned 'inbound' before its upgrade (stable-port-tcp's asResponder).
 */
function roleOf (conn: Connection): HandshakeRole {
  return conn.direction === 'outbound' ? 'initiator' : 'responder'
}

/**
 * The roles of a fast-upgraded punch (both ends burrow, every attempt): B — the DCUtR
 * initiator, which dials RTT/2 after its SYNC — is the Noise initiator, A the responder.
 * B's wait counts A's time to answer, so the SYNC reaches A sooner than RTT/2 and A's SYN
 * usually leaves first and meets a NAT not yet open; the side that dials second is up
 * first (its SYN gets the SYN-ACK), half an RTT before the other. Its Noise message 1 then
 * reaches the other end as that end's socket comes up: connected at both ends half an RTT
 * sooner than with the spec's roles (A client), which make the late side the client.
 */
const FAST_ROLES: { a: HandshakeRole, b: HandshakeRole } = { a: 'responder', b: 'initiator' }

const NO_PHASES: HolePunchPhases = { streamMs: null, connectRttMs: null, syncWaitMs: null, openMs: null, upgradeMs: null, secureMs: null, muxMs: null }

/** multistream-select 1.0's header and our protocol, each a line (sent length-prefixed) */
const MSS_HEADER = new TextEncoder().encode('/multistream/1.0.0\n')
const MSS_DCUTR = new TextEncoder().encode(`${DCUTR_PROTOCOL}\n`)

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i])
}

/**
 * The relayed connection's stream muxer, to open a stream without negotiating it first.
 * js-libp2p's Connection keeps it in a field it does not type as public; when a version
 * does not have it there, the caller negotiates the stream as before.
 */
function muxerOf (conn: Connection): StreamMuxer | undefined {
  const muxer = (conn as unknown as { muxer?: StreamMuxer }).muxer
  return muxer != null && typeof muxer.createStream === 'function' && muxer.status === 'open' ? muxer : undefined
}

/**
 * The punch dial's phases: dial → TCP up (simultaneous open; the connection's timeline.open
 * is when its socket connected), TCP up → the dial resolved with the upgraded connection
 * (js-libp2p 3 sets no timeline.upgraded), split where the upgrader began negotiating a
 * muxer (its progress event; none when yamux needed no negotiation: then Noise took it all).
 */
function dialPhases (dialAt: number, result: Connection | string, upgrade: PunchUpgrade): Pick<HolePunchPhases, 'openMs' | 'upgradeMs' | 'secureMs' | 'muxMs'> {
  if (typeof result === 'string') return { openMs: null, upgradeMs: null, secureMs: null, muxMs: null }
  const open = result.timeline.open
  const upgraded = Date.now()
  const secured = Math.min(upgraded, Math.max(open, upgrade.muxStartAt ?? upgraded))
  return { openMs: Math.max(0, open - dialAt), upgradeMs: Math.max(0, upgraded - open), secureMs: secured - open, muxMs: upgraded - secured }
}

function firstLine (s: string): string {
  return s.split('\n')[0] ?? s
}

/** One ping round trip on this very connection (the ping service would pick its own). */
async function pingOver (conn: Connection): Promise<void> {
  const stream = await conn.newStream(PING_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
  const bytes = byteStream(stream)
  const data = randomBytes(32)
  await bytes.write(data, { signal: AbortSignal.timeout(5_000) })
  const echoed = await bytes.read({ bytes: 32, signal: AbortSignal.timeout(5_000) })
  await stream.close().catch(() => {})
  if (!Buffer.from(echoed.subarray()).equals(data)) throw new Error('ping answer differs')
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** The TCP punch's tries (both roles), newest last, out of the path module's attempt log. */
export function holePunchAttemptsOf (attempts: UpgradeAttempt[]): HolePunchAttempt[] {
  return triesOf<HolePunchAttempt>(attempts, 'tcp')
}

export function holePunch (init: HolePunchInit): (components: HolePunchComponents) => HolePunchService {
  return (components) => new HolePunchService(components, init)
}
