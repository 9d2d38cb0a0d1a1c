import { randomBytes } from 'node:crypto'
import { TypedEventEmitter } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { byteStream, isPrivate, pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { HolePunch } from './pb/holepunch.js'
import {
  DCUTR_PROTOCOL, EXCHANGE_TIMEOUT_MS, FAILED_PEER_BACKOFF_MS, MAX_ADDRESSES, MAX_ATTEMPTS, MAX_MESSAGE_BYTES,
  MAX_RECORDS, PING_PROTOCOL, PUNCH_DIAL_TIMEOUT_MS, RELAYED_CLOSE_GRACE_MS
} from './constants.js'
import type { ObservedAddresses, MappingBehaviour } from '../nat/index.js'
import type { Connection, Libp2pEvents, PeerId, Stream, Startable, TypedEventTarget } from '@libp2p/interface'
import type { AddressManager, ConnectionManager, Registrar, TransportManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = logger('burrow:holepunch')

export interface HolePunchAttempt {
  peer: string
  /** 'initiator' sent the first CONNECT (the inbound side of the relayed connection); 'responder' answered it */
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
}

export interface HolePunchEvents {
  'holepunch:attempt': CustomEvent<HolePunchAttempt>
  'holepunch:succeeded': CustomEvent<HolePunchAttempt>
  'holepunch:failed': CustomEvent<{ peer: string, reason: string }>
}

export interface HolePunchComponents {
  registrar: Registrar
  transportManager: TransportManager
  connectionManager: ConnectionManager
  addressManager: AddressManager
  events: TypedEventTarget<Libp2pEvents>
  peerId: PeerId
}

export interface HolePunchInit {
  observed: ObservedAddresses
  /** our NAT's mapping behaviour, to explain a failure */
  mapping: () => MappingBehaviour
  /** dial private-range addresses a peer sends (own swarms and the lab) */
  allowPrivate: boolean
  /** false: neither start nor answer DCUtR (config `holePunch: false`); default true */
  enabled?: boolean
}

/**
 * Direct Connection Upgrade through Relay over TCP, step by step as
 * libp2p/specs relay/DCUtR.md describes it, with what stock js-libp2p lacks:
 *
 * - our CONNECT carries the public TCP address peers observed for our one dial port
 *   (stock identify drops TCP observed addresses, js-libp2p #2620);
 * - the punch dial goes to the transport manager directly, so the responder's
 *   `initiator: false` reaches the upgrader (the stock dial queue drops per-dial
 *   options): the two ends of a TCP simultaneous open then take fixed roles in
 *   multistream-select and Noise — the CONNECT initiator as the client, the
 *   responder as the server, as go-libp2p and rust-libp2p do.
 */
export class HolePunchService extends TypedEventEmitter<HolePunchEvents> implements Startable {
  private readonly components: HolePunchComponents
  private readonly init: HolePunchInit
  private readonly inProgress = new Set<string>()
  private readonly responding = new Set<string>()
  private readonly failedUntil = new Map<string, number>()
  private readonly records: HolePunchAttempt[] = []
  private readonly lastFailure = new Map<string, string>()
  private started = false
  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => { this.maybeInitiate(evt.detail) }

  constructor (components: HolePunchComponents, init: HolePunchInit) {
    super()
    this.components = components
    this.init = init
  }

  readonly [Symbol.toStringTag] = 'burrow:holepunch'

  async start (): Promise<void> {
    if (this.started || this.init.enabled === false) return
    await this.components.registrar.handle(DCUTR_PROTOCOL, (stream, conn) => {
      void this.respond(stream, conn).catch(err => { log('responding to %p failed - %e', conn.remotePeer, err) })
    }, { runOnLimitedConnection: true, maxInboundStreams: 4, maxOutboundStreams: 4 })
    this.components.events.addEventListener('connection:open', this.onConnectionOpen)
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.components.events.removeEventListener('connection:open', this.onConnectionOpen)
    await this.components.registrar.unhandle(DCUTR_PROTOCOL)
    this.started = false
  }

  /** The latest attempts, newest last. */
  attempts (): HolePunchAttempt[] {
    return [...this.records]
  }

  /** Why the last upgrade with a peer failed, if it did. */
  failureFor (peer: string): string | undefined {
    return this.lastFailure.get(peer)
  }

  /**
   * Spec step 0: the inbound side of a new relayed connection starts the upgrade
   * (unless a direct connection exists, or an upgrade with this peer failed lately).
   */
  private maybeInitiate (conn: Connection): void {
    if (conn.limits == null || conn.direction !== 'inbound') return
    const peer = conn.remotePeer.toString()
    if (this.hasDirect(conn.remotePeer) || this.inProgress.has(peer) || this.responding.has(peer)) return
    if ((this.failedUntil.get(peer) ?? 0) > Date.now()) return
    this.inProgress.add(peer)
    void this.initiate(conn)
      .catch(err => { log('upgrade with %p failed - %e', conn.remotePeer, err) })
      .finally(() => { this.inProgress.delete(peer) })
  }

  /** Spec steps 1–6, as `B` (the initiator). */
  private async initiate (relayed: Connection): Promise<void> {
    const peer = relayed.remotePeer
    let stream: Stream
    try {
      stream = await relayed.newStream(DCUTR_PROTOCOL, { runOnLimitedConnection: true, signal: AbortSignal.timeout(EXCHANGE_TIMEOUT_MS) })
    } catch (err) {
      const unsupported = (err as Error).name === 'UnsupportedProtocolError'
      this.fail(peer, unsupported ? `the peer does not speak ${DCUTR_PROTOCOL}` : `could not open a ${DCUTR_PROTOCOL} stream: ${(err as Error).message}`)
      return
    }
    const pb = pbStream(stream, { maxDataLength: MAX_MESSAGE_BYTES }).pb(HolePunch)
    try {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        if (this.hasDirect(peer) || this.responding.has(peer.toString())) return
        const ours = this.ourAddresses()
        if (ours.length === 0) {
          this.fail(peer, 'no public address of ours is known yet (no peer has observed our connections)')
          return
        }
        const startedAt = Date.now()
        const signal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS)
        // 1–2: CONNECT with our observed addresses; start the RTT timer
        await pb.write({ type: HolePunch.Type.CONNECT, ObsAddrs: ours.map(a => a.bytes) }, { signal })
        // 3: their CONNECT (a refused stream means the peer runs its own upgrade with us)
        let reply: HolePunch
        try {
          reply = await pb.read({ signal })
        } catch (err) {
          if (this.responding.has(peer.toString()) || this.hasDirect(peer)) return
          throw err
        }
        const rttMs = Date.now() - startedAt
        if (reply.type !== HolePunch.Type.CONNECT) throw new Error(`expected CONNECT, got ${String(reply.type)}`)
        const theirs = this.usable(reply.ObsAddrs)
        // 4: SYNC, then wait half the RTT so both dials leave at the same moment
        await pb.write({ type: HolePunch.Type.SYNC, ObsAddrs: [] }, { signal })
        if (theirs.length === 0) {
          this.record(peer, 'initiator', attempt, startedAt, rttMs, 'failed', 'the peer sent no address we can dial', relayed)
          continue
        }
        await sleep(rttMs / 2)
        // 5: simultaneous connect; as initiator we are the client of the handshake
        const result = await this.punch(peer, theirs, true)
        if (typeof result !== 'string') {
          this.record(peer, 'initiator', attempt, startedAt, rttMs, 'direct', result.remoteAddr.toString(), relayed)
          await this.migrate(relayed, result)
          return
        }
        this.record(peer, 'initiator', attempt, startedAt, rttMs, 'failed', result, relayed)
        // 6: retry on the same stream
      }
      this.fail(peer, this.explainFailure())
    } finally {
      await stream.close().catch(() => { stream.abort(new Error('closing')) })
    }
  }

  /** Spec steps 3 and 5, as `A` (the responder). */
  private async respond (stream: Stream, relayed: Connection): Promise<void> {
    const peer = relayed.remotePeer
    const id = peer.toString()
    // both ends may start at once (a relayed connection each way): the lower PeerId's
    // own upgrade goes on, the other side's stream is refused
    if (this.inProgress.has(id) && this.components.peerId.toString() < id) {
      stream.abort(new Error('an upgrade with this peer is already running'))
      return
    }
    if (this.responding.has(id)) {
      stream.abort(new Error('already responding to this peer'))
      return
    }
    this.responding.add(id)
    try {
      await this.respondSteps(stream, relayed)
    } finally {
      this.responding.delete(id)
    }
  }

  private async respondSteps (stream: Stream, relayed: Connection): Promise<void> {
    const peer = relayed.remotePeer
    const pb = pbStream(stream, { maxDataLength: MAX_MESSAGE_BYTES }).pb(HolePunch)
    try {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        let connect: HolePunch
        try {
          connect = await pb.read({ signal: AbortSignal.timeout(EXCHANGE_TIMEOUT_MS + PUNCH_DIAL_TIMEOUT_MS) })
        } catch {
          return // the initiator is done (success, or it gave up)
        }
        const startedAt = Date.now()
        if (connect.type !== HolePunch.Type.CONNECT) throw new Error(`expected CONNECT, got ${String(connect.type)}`)
        const theirs = this.usable(connect.ObsAddrs)
        const signal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS)
        await pb.write({ type: HolePunch.Type.CONNECT, ObsAddrs: this.ourAddresses().map(a => a.bytes) }, { signal })
        const sync = await pb.read({ signal })
        if (sync.type !== HolePunch.Type.SYNC) throw new Error(`expected SYNC, got ${String(sync.type)}`)
        const rttMs = Date.now() - startedAt
        if (theirs.length === 0) {
          this.record(peer, 'responder', attempt, startedAt, rttMs, 'failed', 'the peer sent no address we can dial', relayed)
          continue
        }
        // 5: dial at once on SYNC; as responder we are the server of the handshake
        const result = await this.punch(peer, theirs, false)
        if (typeof result !== 'string') {
          this.record(peer, 'responder', attempt, startedAt, rttMs, 'direct', result.remoteAddr.toString(), relayed)
          await this.migrate(relayed, result)
          return
        }
        this.record(peer, 'responder', attempt, startedAt, rttMs, 'failed', result, relayed)
        if (attempt === MAX_ATTEMPTS) this.fail(peer, this.explainFailure())
      }
    } finally {
      await stream.close().catch(() => { stream.abort(new Error('closing')) })
    }
  }

  /**
   * Dials every address at once from the stable dial port, straight through the
   * transport manager (not the dial queue, which would drop `initiator`).
   * Resolves with the first connection, or a one-line reason.
   */
  private async punch (peer: PeerId, addrs: Multiaddr[], initiator: boolean): Promise<Connection | string> {
    // one controller per address: the transport may keep listening to a dial's signal
    // after the connection is up, so the winner's signal must never fire
    const dials = addrs.map(addr => ({ addr, controller: new AbortController(), done: false }))
    const timer = setTimeout(() => {
      for (const d of dials) if (!d.done) d.controller.abort(new Error(`no answer within ${PUNCH_DIAL_TIMEOUT_MS} ms`))
    }, PUNCH_DIAL_TIMEOUT_MS)
    const errors: string[] = []
    try {
      return await Promise.any(dials.map(async (d) => {
        const target = d.addr.toString().includes('/p2p/') ? d.addr : d.addr.encapsulate(`/p2p/${peer.toString()}`)
        try {
          const conn = await this.components.transportManager.dial(target, { signal: d.controller.signal, initiator: initiator ? undefined : false } as Parameters<TransportManager['dial']>[1])
          d.done = true
          for (const other of dials) if (other !== d && !other.done) other.controller.abort(new Error('another address answered'))
          return conn
        } catch (err) {
          d.done = true
          errors.push(`${d.addr.toString()}: ${(err as Error).message.split('\n')[0] ?? ''}`)
          throw err
        }
      }))
    } catch {
      // the other side's dial may have won the race: a TCP connection to the peer's WAN address
      const existing = this.components.connectionManager.getConnections(peer)
        .find(c => c.limits == null && c.status === 'open' && addrs.some(a => c.remoteAddr.toString().startsWith(a.toString())))
      if (existing != null) return existing
      return errors.length > 0 ? errors.join('; ') : 'no dial finished'
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * The direct connection becomes the one new streams use; the relayed one is closed
   * once the direct one carried a ping (spec: "closed after a grace period").
   */
  private async migrate (relayed: Connection, direct: Connection): Promise<void> {
    this.failedUntil.delete(relayed.remotePeer.toString())
    this.lastFailure.delete(relayed.remotePeer.toString())
    try {
      await pingOver(direct)
    } catch (err) {
      log('the direct connection to %p did not carry a ping - %e', relayed.remotePeer, err)
      return
    }
    setTimeout(() => {
      if (relayed.status === 'open' && direct.status === 'open') {
        void relayed.close().catch(() => {})
      }
    }, RELAYED_CLOSE_GRACE_MS).unref()
  }

  private fail (peer: PeerId, reason: string): void {
    const id = peer.toString()
    this.failedUntil.set(id, Date.now() + FAILED_PEER_BACKOFF_MS)
    this.lastFailure.set(id, reason)
    log('no direct connection to %p: %s', peer, reason)
    this.safeDispatchEvent('holepunch:failed', { detail: { peer: id, reason } })
  }

  private explainFailure (): string {
    if (this.init.mapping() === 'endpoint-dependent') {
      return 'our NAT is symmetric (endpoint-dependent mapping): each destination sees another public port, so a hole punch cannot meet; messages stay on the relay'
    }
    return `${MAX_ATTEMPTS} hole punch attempts failed: the peer's NAT is likely symmetric or filters TCP simultaneous open; messages stay on the relay`
  }

  private record (peer: PeerId, role: 'initiator' | 'responder', attempt: number, startedAt: number, rttMs: number | null, outcome: 'direct' | 'failed', detail: string, relayed: Connection): void {
    const now = Date.now()
    const rec: HolePunchAttempt = { peer: peer.toString(), role, attempt, startedAt: new Date(startedAt).toISOString(), rttMs, durationMs: now - startedAt, outcome, detail, sinceRelayedMs: now - relayed.timeline.open }
    this.records.push(rec)
    if (this.records.length > MAX_RECORDS) this.records.shift()
    log('attempt %d with %p as %s: %s (%s)', attempt, peer, role, outcome, detail)
    this.safeDispatchEvent('holepunch:attempt', { detail: rec })
    if (outcome === 'direct') this.safeDispatchEvent('holepunch:succeeded', { detail: rec })
  }

  /** Public TCP addresses peers observed for our dial port, the best agreed first, then announced ones. */
  private ourAddresses (): Multiaddr[] {
    const out: Multiaddr[] = []
    for (const c of this.init.observed.candidates()) {
      out.push(multiaddr(`/${c.ip.includes(':') ? 'ip6' : 'ip4'}/${c.ip}/tcp/${c.port}`))
    }
    for (const a of this.components.addressManager.getAddresses()) {
      const s = a.toString()
      if (s.includes('/p2p-circuit') || !s.includes('/tcp/') || isLoopbackOrLinkLocal(s)) continue
      if (!this.init.allowPrivate && isPrivate(a) === true) continue
      out.push(a.decapsulateCode(421))
    }
    const seen = new Set<string>()
    return out.filter(a => { const k = a.toString(); if (seen.has(k)) return false; seen.add(k); return true }).slice(0, MAX_ADDRESSES)
  }

  /** What we can dial of what a peer sent: TCP, not relayed, public unless allowed. */
  private usable (raw: Uint8Array[]): Multiaddr[] {
    const out: Multiaddr[] = []
    for (const bytes of raw.slice(0, MAX_ADDRESSES)) {
      try {
        const ma = multiaddr(bytes)
        const s = ma.toString()
        if (s.includes('/p2p-circuit') || !/^\/ip[46]\/[^/]+\/tcp\/\d+/.test(s) || isLoopbackOrLinkLocal(s)) continue
        if (!this.init.allowPrivate && isPrivate(ma) === true) continue
        out.push(ma)
      } catch {}
    }
    return out
  }

  private directConnection (peer: PeerId): Connection | undefined {
    return this.components.connectionManager.getConnections(peer).find(c => c.limits == null && c.status === 'open')
  }

  private hasDirect (peer: PeerId): boolean {
    return this.directConnection(peer) != null
  }
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

/** Loopback reaches ourselves, link-local only the same link: never punch targets. */
function isLoopbackOrLinkLocal (addr: string): boolean {
  return /^\/ip4\/127\.|^\/ip6\/::1\/|^\/ip4\/169\.254\.|^\/ip6\/fe80:/i.test(addr)
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

export function holePunch (init: HolePunchInit): (components: HolePunchComponents) => HolePunchService {
  return (components) => new HolePunchService(components, init)
}
