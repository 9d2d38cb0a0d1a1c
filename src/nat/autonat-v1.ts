/**
 * The AutoNAT v1 server, for peers that speak only v1 (go-libp2p before AutoNAT v2, kubo,
 * older js-libp2p). burrow's own reachability uses AutoNAT v2; this only answers.
 *
 * Built on @libp2p/autonat's service, of which only the server half runs
 * (src/upstream/autonat-v1-server.ts says why and how). The stock server already refuses
 * what the spec says to refuse: a request whose peer is not the sender, addresses that are
 * private, on another IP than the sender's, or on one of our own hosts. Around it, every
 * peer is taken for hostile: the protocol is not offered over relayed (limited)
 * connections, and dial-backs are throttled per peer and overall, as go-libp2p's server
 * does (p2p/host/autonat/options.go: 3 per peer and 30 in all per minute); a request over
 * the throttle gets its stream reset.
 * @see https://github.com/libp2p/specs/blob/master/autonat/autonat-v1.md
 */
import { autoNAT } from '@libp2p/autonat'
import { checkAutoNatV1Server } from '../upstream/index.js'
import type { Connection, Startable, Stream, Logger, ComponentLogger } from '@libp2p/interface'
import type { Registrar } from '@libp2p/interface-internal'


/** The AutoNAT v1 protocol. */
export const AUTONAT_V1_PROTOCOL = '/libp2p/autonat/1.0.0'
/** Dial-back requests answered per peer per window (go-libp2p autonat v1: throttlePeerMax 3). */
export const AUTONAT_V1_PER_PEER = 3
/** Dial-back requests answered over all peers per window (go-libp2p autonat v1: throttleGlobalMax 30). */
export const AUTONAT_V1_GLOBAL = 30
/** The throttle window (go-libp2p autonat v1: throttleResetPeriod 1 min). */
export const AUTONAT_V1_WINDOW_MS = 60_000
/** Inbound v1 streams per connection (the stock service's MAX_INBOUND_STREAMS). */
const MAX_INBOUND_STREAMS = 2
/** Peers tracked in a window: beyond, the global cap alone applies (it is lower anyway). */
const MAX_TRACKED_PEERS = 1024

export interface AutoNatV1ServerComponents {
  registrar: Registrar
  logger: ComponentLogger
}

export class AutoNatV1Server implements Startable {
  /** the stock service; only its server half is used (the start-time check looks at it) */
  readonly stock: unknown
  private readonly components: AutoNatV1ServerComponents
  private started = false
  private windowStart = 0
  private answered = 0
  private readonly perPeer = new Map<string, number>()
  /** requests refused by the throttle since start */
  refused = 0

  private readonly log: Logger

  constructor (components: AutoNatV1ServerComponents & Record<string, unknown>) {
    this.log = components.logger.forComponent('burrow:nat:autonat-v1')
    this.components = components
    // the stock constructor only sets fields; its client starts only in its start(), never called
    this.stock = autoNAT()(freshDials(components) as unknown as Parameters<ReturnType<typeof autoNAT>>[0])
  }

  readonly [Symbol.toStringTag] = 'burrow:autonat-v1-server'

  async start (): Promise<void> {
    if (this.started) return
    const server = checkAutoNatV1Server(this.stock)
    await this.components.registrar.handle(AUTONAT_V1_PROTOCOL, (stream: Stream, connection: Connection) => {
      if (!this.admit(connection.remotePeer.toString())) {
        this.log('request from %p over the throttle: stream reset', connection.remotePeer)
        stream.abort(new Error('AutoNAT v1 dial-back throttle'))
        return
      }
      void server.handleIncomingAutonatStream(stream, connection).catch(err => { this.log('request from %p failed - %e', connection.remotePeer, err) })
    }, { maxInboundStreams: MAX_INBOUND_STREAMS, maxOutboundStreams: 1 })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.components.registrar.unhandle(AUTONAT_V1_PROTOCOL)
    this.perPeer.clear()
  }

  /** Counts a request against the throttle; false when it is over. */
  private admit (peer: string): boolean {
    const now = Date.now()
    if (now - this.windowStart >= AUTONAT_V1_WINDOW_MS) {
      this.windowStart = now
      this.answered = 0
      this.perPeer.clear()
    }
    const mine = this.perPeer.get(peer) ?? 0
    if (this.answered >= AUTONAT_V1_GLOBAL || mine >= AUTONAT_V1_PER_PEER) {
      this.refused++
      return false
    }
    this.answered++
    if (this.perPeer.size < MAX_TRACKED_PEERS || this.perPeer.has(peer)) this.perPeer.set(peer, mine + 1)
    return true
  }
}

/**
 * The components the stock server gets: the same, but its dial-backs open a fresh connection
 * (`force: true`), as the spec means (go-libp2p's v1 server dials from a separate host). The
 * stock server dials `address/p2p/PEER` without force, so libp2p handed it the connection the
 * request came over; that connection's remote address is not the one asked for, and the
 * server answered E_DIAL_ERROR ("Unexpected remote address") and closed the connection: a
 * v1 peer (kubo) that asked was cut off, its answer lost with the connection.
 */
function freshDials (components: AutoNatV1ServerComponents & Record<string, unknown>): Record<string, unknown> {
  return new Proxy(components, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown
      if (prop !== 'connectionManager' || typeof value !== 'object' || value == null) return value
      const manager = value as { openConnection: (peer: unknown, options?: Record<string, unknown>) => Promise<unknown> }
      return new Proxy(manager, {
        get (m, key, r) {
          if (key === 'openConnection') return async (peer: unknown, options: Record<string, unknown> = {}) => m.openConnection(peer, { ...options, force: true })
          const v = Reflect.get(m, key, r) as unknown
          return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(m) : v
        }
      })
    }
  })
}

/** The AutoNAT v1 server as a libp2p service. */
export function autoNatV1Server (): (components: AutoNatV1ServerComponents & Record<string, unknown>) => AutoNatV1Server {
  return (components) => new AutoNatV1Server(components)
}
