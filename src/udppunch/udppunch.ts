/**
 * The UDP punch path: a relayed connection is upgraded to a direct WebRTC one
 * (@libp2p/webrtc private-to-private, libp2p/specs webrtc/webrtc.md). The SDP offer and
 * answer and the ICE candidates travel over the relayed connection itself; ICE then
 * punches UDP between the candidates, the server-reflexive ones learned from the STUN
 * servers burrow's own relays run (src/stun).
 *
 * Who upgrades: the dialling side of the relayed connection (it knows the circuit address
 * it dialled). The other side needs nothing but the webrtc transport, which answers
 * `/webrtc-signaling/0.0.1` from its start. burrow does not listen on `/webrtc`, so it
 * announces no `…/p2p-circuit/webrtc` addresses: a dialler then always takes the quick
 * relayed path first and no ICE timeout ever sits on a first dial.
 *
 * No retry loop: MAX_ATTEMPTS tries per relayed connection, then nothing for that peer
 * for FAILED_PEER_BACKOFF_MS (the webrtc transport itself never retries a dial).
 */
import { TypedEventEmitter } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, Libp2pEvents, PeerId, Startable, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager, TransportManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import { isRelayed, relayAddressOf } from '../connections/index.js'

const log = logger('burrow:udppunch')

/** One WebRTC dial: signalling over the relay plus ICE; measured 150–250 ms on a 0 ms lab. */
export const UDP_PUNCH_TIMEOUT_MS = 10_000
/** Attempts per relayed connection. */
export const MAX_ATTEMPTS = 2
/** Pause between attempts. */
export const RETRY_PAUSE_MS = 1_000
/** After a failed upgrade, no new one with that peer for this long. */
export const FAILED_PEER_BACKOFF_MS = 5 * 60_000
/** The relayed connection is closed this long after the direct one is up. */
export const RELAYED_CLOSE_GRACE_MS = 5_000
/** With TCP hole punching on too, the UDP path waits this long for DCUtR to make the connection direct. */
export const UDP_AFTER_TCP_MS = 8_000
/** Attempts kept for `status`. */
const MAX_RECORDS = 50

export interface UdpPunchAttempt {
  peer: string
  attempt: number
  startedAt: string
  durationMs: number
  /** from the relayed connection's opening to the end of this attempt: the time relayed → direct */
  sinceRelayedMs: number
  outcome: 'direct' | 'failed'
  /** the direct connection's address, or why the attempt failed */
  detail: string
}

export interface UdpPunchEvents {
  /** a WebRTC dial over the relayed connection's signalling begins */
  'udppunch:started': CustomEvent<{ peer: string, attempt: number }>
  'udppunch:attempt': CustomEvent<UdpPunchAttempt>
  'udppunch:failed': CustomEvent<{ peer: string, reason: string }>
}

export interface UdpPunchComponents {
  connectionManager: ConnectionManager
  transportManager: TransportManager
  events: TypedEventTarget<Libp2pEvents>
}

export interface UdpPunchInit {
  /** false: the service does nothing (config `udpPunch`) */
  enabled: boolean
  /** the STUN servers ICE uses, for `status` and failure reasons */
  stunServers: string[]
  /** wait this long after the relayed connection opened before trying (lets TCP DCUtR go first); 0: at once */
  delayMs: number
  /** close the relayed connection once the direct one is up; default true */
  closeRelayed?: boolean
}

export class UdpPunchService extends TypedEventEmitter<UdpPunchEvents> implements Startable {
  private readonly components: UdpPunchComponents
  private readonly init: UdpPunchInit
  private readonly inProgress = new Set<string>()
  private readonly failedUntil = new Map<string, number>()
  private readonly lastFailure = new Map<string, string>()
  private readonly records: UdpPunchAttempt[] = []
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private readonly shutdown = new AbortController()
  private started = false
  /** WebRTC dials (ICE probes through our STUN servers) this path started: burrow_udppunch_probes_sent_total */
  probesSent = 0
  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => { this.maybeUpgrade(evt.detail) }

  constructor (components: UdpPunchComponents, init: UdpPunchInit) {
    super()
    this.components = components
    this.init = init
  }

  readonly [Symbol.toStringTag] = 'burrow:udppunch'

  get enabled (): boolean {
    return this.init.enabled
  }

  get stunServers (): string[] {
    return [...this.init.stunServers]
  }

  async start (): Promise<void> {
    if (this.started || !this.init.enabled) return
    this.components.events.addEventListener('connection:open', this.onConnectionOpen)
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.components.events.removeEventListener('connection:open', this.onConnectionOpen)
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.shutdown.abort()
    this.started = false
  }

  attempts (): UdpPunchAttempt[] {
    return [...this.records]
  }

  failureFor (peer: string): string | undefined {
    return this.lastFailure.get(peer)
  }

  /** Upgrades a relayed connection now (also what the automatic path calls). */
  async upgrade (relayed: Connection): Promise<Connection | undefined> {
    const peer = relayed.remotePeer
    const id = peer.toString()
    const target = webrtcAddressFor(relayed)
    if (target == null) return undefined
    const errors: string[] = []
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (this.shutdown.signal.aborted) return undefined
      const existing = this.directConnection(peer)
      if (existing != null) return existing
      if (relayed.status !== 'open') {
        errors.push('the relayed connection closed')
        break
      }
      const t0 = Date.now()
      this.safeDispatchEvent('udppunch:started', { detail: { peer: id, attempt } })
      this.probesSent++
      try {
        // straight to the transport: the dial queue would join the relayed dial still
        // finishing for this peer and hand that connection back
        const conn = await this.components.transportManager.dial(target, {
          signal: AbortSignal.any([AbortSignal.timeout(UDP_PUNCH_TIMEOUT_MS), this.shutdown.signal])
        })
        if (isRelayed(conn)) throw new Error(`the dial returned a relayed connection (${conn.remoteAddr.toString()})`)
        this.record({ peer: id, attempt, startedAt: new Date(t0).toISOString(), durationMs: Date.now() - t0, sinceRelayedMs: Date.now() - relayed.timeline.open, outcome: 'direct', detail: conn.remoteAddr.toString() })
        this.failedUntil.delete(id)
        this.lastFailure.delete(id)
        log('direct WebRTC connection to %p in %d ms (attempt %d)', peer, Date.now() - t0, attempt)
        if (this.init.closeRelayed !== false) this.closeLater(relayed, conn)
        return conn
      } catch (err) {
        const reason = describe(err, Date.now() - t0)
        errors.push(reason)
        this.record({ peer: id, attempt, startedAt: new Date(t0).toISOString(), durationMs: Date.now() - t0, sinceRelayedMs: Date.now() - relayed.timeline.open, outcome: 'failed', detail: reason })
        log('WebRTC attempt %d to %p failed: %s', attempt, peer, reason)
      }
      if (attempt < MAX_ATTEMPTS) await sleep(RETRY_PAUSE_MS, this.shutdown.signal).catch(() => {})
    }
    if (this.directConnection(peer) != null) return this.directConnection(peer)
    this.fail(id, `no UDP path (WebRTC, ${MAX_ATTEMPTS} attempts; STUN ${this.init.stunServers.length > 0 ? this.init.stunServers.join(', ') : 'none'}): ${errors.at(-1) ?? 'not tried'}; a symmetric NAT on either side defeats it; next try in ${FAILED_PEER_BACKOFF_MS / 60_000} min`)
    return undefined
  }

  /** The dialling side of a new relayed connection starts the upgrade (after delayMs). */
  private maybeUpgrade (conn: Connection): void {
    if (!isRelayed(conn) || conn.direction !== 'outbound') return
    const id = conn.remotePeer.toString()
    if (this.inProgress.has(id) || (this.failedUntil.get(id) ?? 0) > Date.now()) return
    if (this.directConnection(conn.remotePeer) != null) return
    this.inProgress.add(id)
    const run = (): void => {
      void this.upgrade(conn)
        .catch(err => { log('UDP upgrade with %p failed - %e', conn.remotePeer, err) })
        .finally(() => { this.inProgress.delete(id) })
    }
    if (this.init.delayMs <= 0) {
      run()
      return
    }
    const timer = setTimeout(() => { this.timers.delete(timer); run() }, this.init.delayMs)
    timer.unref()
    this.timers.add(timer)
  }

  private directConnection (peer: PeerId): Connection | undefined {
    return this.components.connectionManager.getConnections(peer).find(c => c.status === 'open' && !isRelayed(c))
  }

  private closeLater (relayed: Connection, direct: Connection): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (relayed.status === 'open' && direct.status === 'open') void relayed.close().catch(() => {})
    }, RELAYED_CLOSE_GRACE_MS)
    timer.unref()
    this.timers.add(timer)
  }

  private record (a: UdpPunchAttempt): void {
    this.records.push(a)
    if (this.records.length > MAX_RECORDS) this.records.shift()
    this.safeDispatchEvent('udppunch:attempt', { detail: a })
  }

  private fail (peer: string, reason: string): void {
    this.failedUntil.set(peer, Date.now() + FAILED_PEER_BACKOFF_MS)
    this.lastFailure.set(peer, reason)
    log('%s: %s', peer, reason)
    this.safeDispatchEvent('udppunch:failed', { detail: { peer, reason } })
  }
}

/**
 * `/…/p2p/RELAY/p2p-circuit/webrtc/p2p/PEER` for a relayed connection to PEER
 * (undefined when the connection's address is not a circuit address).
 */
export function webrtcAddressFor (conn: Connection): Multiaddr | undefined {
  const relay = isRelayed(conn) ? relayAddressOf(conn.remoteAddr) : undefined
  if (relay == null) return undefined
  return multiaddr(`${relay}/p2p-circuit/webrtc/p2p/${conn.remotePeer.toString()}`)
}

function describe (err: unknown, ms: number): string {
  const e = err as Error
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return `ICE found no working UDP path within ${Math.round(ms / 1000)} s`
  return (e?.message ?? String(err)).split('\n')[0] ?? String(err)
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason) }, { once: true })
  })
}

export function udpPunch (init: UdpPunchInit): (components: UdpPunchComponents) => UdpPunchService {
  return (components) => new UdpPunchService(components, init)
}
