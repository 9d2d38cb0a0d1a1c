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
 * for FAILED_PEER_BACKOFF_MS (the webrtc transport itself never retries a dial). When to
 * try, the backoff and the attempt log are the path module's (src/connections/upgrade.ts):
 * this module is the protocol, registered there as the 'webrtc' strategy.
 */
import { TypedEventEmitter, serviceDependencies } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, Libp2pEvents, PeerId, Startable, TypedEventTarget, Logger, ComponentLogger } from '@libp2p/interface'
import type { ConnectionManager, TransportManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import { isRelayed, relayAddressOf, triesOf, UpgradeAttemptError, FAILED_PEER_BACKOFF_MS as UPGRADE_BACKOFF_MS } from '../connections/index.js'
import type { PathUpgradeService, UpgradeAttempt, UpgradeStrategy } from '../connections/index.js'

/** One WebRTC dial: signalling over the relay plus ICE; measured 150–250 ms on a 0 ms lab. */
export const UDP_PUNCH_TIMEOUT_MS = 10_000
/** Attempts per relayed connection. */
export const MAX_ATTEMPTS = 2
/** Pause between attempts. */
export const RETRY_PAUSE_MS = 1_000
/** After a failed upgrade, no new one with that peer for this long (the path module's backoff, src/connections). */
export const FAILED_PEER_BACKOFF_MS = UPGRADE_BACKOFF_MS
/** The relayed connection is closed this long after the direct one is up. */
export const RELAYED_CLOSE_GRACE_MS = 5_000
/** With TCP hole punching on too, the UDP path waits this long for DCUtR to make the connection direct. */
export const UDP_AFTER_TCP_MS = 8_000

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
  /** the path module's state machine this path registers with as the 'webrtc' strategy */
  pathUpgrade: Pick<PathUpgradeService, 'addStrategy' | 'machine'>
  logger: ComponentLogger
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
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private readonly shutdown = new AbortController()
  private started = false
  /** WebRTC dials (ICE probes through our STUN servers) this path started: burrow_udppunch_probes_sent_total */
  probesSent = 0

  private readonly log: Logger

  constructor (components: UdpPunchComponents, init: UdpPunchInit) {
    super()
    this.log = components.logger.forComponent('burrow:udppunch')
    this.components = components
    this.init = init
    this.strategy = {
      name: 'webrtc',
      applicable: (relayed) => {
        if (relayed.direction !== 'outbound') return 'the peer that dialled the relayed connection starts the UDP path'
        if (webrtcAddressFor(relayed) == null) return 'the connection has no circuit address to signal over'
        return undefined
      },
      attempt: async (relayed, signal) => this.attempt(relayed, signal),
      delayMs: init.delayMs
    }
  }

  readonly [Symbol.toStringTag] = 'burrow:udppunch'
  readonly [serviceDependencies]: string[] = ['@burrow/path-upgrade']

  get enabled (): boolean {
    return this.init.enabled
  }

  get stunServers (): string[] {
    return [...this.init.stunServers]
  }

  /**
   * This path as an upgrade strategy ('webrtc'): the path module's state machine decides
   * when it runs (after `delayMs`, TCP's head start), keeps its backoff and its log.
   */
  readonly strategy: UpgradeStrategy

  async start (): Promise<void> {
    if (this.started || !this.init.enabled) return
    this.components.pathUpgrade.addStrategy(this.strategy)
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.shutdown.abort()
    this.started = false
  }

  /**
   * Up to MAX_ATTEMPTS WebRTC dials over the relayed connection's signalling: the direct
   * connection, or a rejection with the reason (UpgradeAttemptError, its tries recorded).
   */
  async attempt (relayed: Connection, signal: AbortSignal): Promise<{ connection: Connection, record: { tries: number } }> {
    const peer = relayed.remotePeer
    const id = peer.toString()
    const target = webrtcAddressFor(relayed)
    if (target == null) throw new UpgradeAttemptError('the connection has no circuit address to signal over')
    const stop = AbortSignal.any([signal, this.shutdown.signal])
    const tries: UdpPunchAttempt[] = []
    const errors: string[] = []
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (stop.aborted) throw stop.reason
      const existing = this.directConnection(peer)
      if (existing != null) return { connection: existing, record: { tries: tries.length } }
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
          signal: AbortSignal.any([AbortSignal.timeout(UDP_PUNCH_TIMEOUT_MS), stop])
        })
        if (isRelayed(conn)) throw new Error(`the dial returned a relayed connection (${conn.remoteAddr.toString()})`)
        this.record(tries, { peer: id, attempt, startedAt: new Date(t0).toISOString(), durationMs: Date.now() - t0, sinceRelayedMs: Date.now() - relayed.timeline.open, outcome: 'direct', detail: conn.remoteAddr.toString() })
        this.log('direct WebRTC connection to %p in %d ms (attempt %d)', peer, Date.now() - t0, attempt)
        if (this.init.closeRelayed !== false) this.closeLater(relayed, conn)
        return { connection: conn, record: { tries: tries.length } }
      } catch (err) {
        if (stop.aborted) throw stop.reason
        const reason = describe(err, Date.now() - t0)
        errors.push(reason)
        this.record(tries, { peer: id, attempt, startedAt: new Date(t0).toISOString(), durationMs: Date.now() - t0, sinceRelayedMs: Date.now() - relayed.timeline.open, outcome: 'failed', detail: reason })
        this.log('WebRTC attempt %d to %p failed: %s', attempt, peer, reason)
      }
      if (attempt < MAX_ATTEMPTS) await sleep(RETRY_PAUSE_MS, stop)
    }
    const direct = this.directConnection(peer)
    if (direct != null) return { connection: direct, record: { tries: tries.length } }
    const reason = `no UDP path (WebRTC, ${MAX_ATTEMPTS} attempts; STUN ${this.init.stunServers.length > 0 ? this.init.stunServers.join(', ') : 'none'}): ${errors.at(-1) ?? 'not tried'}; a symmetric NAT on either side defeats it; next try in ${FAILED_PEER_BACKOFF_MS / 60_000} min`
    this.log('%s: %s', id, reason)
    this.safeDispatchEvent('udppunch:failed', { detail: { peer: id, reason } })
    throw new UpgradeAttemptError(reason, { tries: tries.length })
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

  private record (tries: UdpPunchAttempt[], a: UdpPunchAttempt): void {
    tries.push(a)
    this.components.pathUpgrade.machine.logTry(a.peer, 'webrtc', Date.parse(a.startedAt), a.outcome, a.detail, a)
    this.safeDispatchEvent('udppunch:attempt', { detail: a })
  }
}

/** The UDP path's tries, newest last, out of the path module's attempt log. */
export function udpAttemptsOf (attempts: UpgradeAttempt[]): UdpPunchAttempt[] {
  return triesOf<UdpPunchAttempt>(attempts, 'webrtc')
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
