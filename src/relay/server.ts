import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { pbStream } from '@libp2p/utils'
import { HOP_STREAMS_ABOVE_CIRCUITS, HOP_TIMEOUT_MS, MAX_BUDGETED_ADDRESSES, MAX_LEFT_RESERVATIONS_KEPT, RELAY_HOP_PROTOCOL } from './constants.js'
import { ipKey, ReservationLedger, Tally } from './fairness.js'
import type { BurrowConfig } from '../config/index.js'
import type { CircuitRelayService, RelayReservation } from '@libp2p/circuit-relay-v2'
import type { Connection, Libp2pEvents, Logger, PeerId, Stream, StreamHandlerOptions, TypedEventTarget } from '@libp2p/interface'
import type { Registrar } from '@libp2p/interface-internal'
import type { ProtobufStream } from '@libp2p/utils'
import { loadStockHop } from '../upstream/index.js'
import type { HopRequest, StockHopPb as StockPb, StockHopServer } from '../upstream/index.js'

/**
 * The stock circuit relay v2 server with burrow's explicit limits. Durations stay in
 * milliseconds here; the Limit message carries seconds through the patch
 * relay-limit-codec (src/upstream/relay-limit-codec.ts).
 */
export function relayServer (config: BurrowConfig): ReturnType<typeof circuitRelayServer> {
  return circuitRelayServer({
    // per connection: the peer's circuits, a reservation refresh and a request being refused
    maxInboundHopStreams: config.relay.maxCircuitsPerPeer + HOP_STREAMS_ABOVE_CIRCUITS,
    reservations: {
      maxReservations: config.relay.maxReservations,
      reservationTtl: config.relay.reservationTtlSeconds * 1000,
      applyDefaultLimit: true,
      defaultDurationLimit: config.relay.circuitSeconds * 1000,
      defaultDataLimit: BigInt(config.relay.circuitBytes)
    }
  })
}

/** One hop request being answered. */
interface HopExchange {
  stream: Stream
  request: HopRequest
  pbstr: ProtobufStream<Stream>
  signal: AbortSignal
  /** answers with a status and logs why, in one line */
  refuse: (status: string, why: string) => Promise<void>
  pb: StockPb
  server: StockHopServer
}

/** The relay's caps, from config (src/config/fields.ts has each default and its anchor). */
export interface RelayServiceLimits {
  /** hop streams open at once over all peers */
  maxCircuits: number
  /** circuits one peer has open at once, over all its connections (so also per connection) */
  maxCircuitsPerPeer: number
  /** circuits open at once from one IP (IPv6: one /64) */
  maxCircuitsPerIp: number
  /** the stock store's cap (relay.maxReservations) */
  maxReservations: number
  /** reservations the connected peers of one IP (IPv6: one /64) hold at once */
  maxReservationsPerIp: number
  /** new reservations one IP (IPv6: one /64) gets per hour */
  reservationsPerIpPerHour: number
}

export interface RelayServiceGateComponents {
  registrar: Registrar
  /** the libp2p node: its 'peer:disconnect' ends a reservation */
  events: TypedEventTarget<Libp2pEvents>
  /** the stock circuit relay v2 server (libp2p.services.relay) */
  relay: CircuitRelayService
  /** the open connections to a peer (libp2p.getConnections) */
  connections: (peer: PeerId) => Connection[]
  /** told of each refusal (status, one-line reason): the node's 'relay:refused' event */
  onRefused?: (status: string, reason: string) => void
  /** the gate service's component logger for `burrow:relay:server` */
  log: Logger
}

/**
 * Takes over the stock relay server's hop handler, so that the relay is fair to every
 * address and offered only while `allow()` holds ('auto': only when publicly reachable;
 * private nodes do not advertise a relay service they would refuse).
 *
 * Before a hop request reaches the stock handler (libp2p/specs relay/circuit-v2.md):
 * 1. any hop stream beyond `maxCircuits` over all peers: RESOURCE_LIMIT_EXCEEDED;
 * 2. RESERVE from an IP (IPv6: /64) whose connected peers hold `maxReservationsPerIp`,
 *    or that got `reservationsPerIpPerHour` new ones in the last hour:
 *    RESERVATION_REFUSED (the spec's status for "too many reservations");
 * 3. CONNECT beyond `maxCircuitsPerPeer` circuits of that peer, or `maxCircuitsPerIp` of
 *    its IP: RESOURCE_LIMIT_EXCEEDED (the spec's status for too many relayed connections
 *    from the initiator).
 * Each refusal logs one line saying which cap.
 *
 * A reservation ends when it expires or when its holder's last connection closes (the
 * spec: "If the peer disconnects, the reservation is no longer valid"); the stock store
 * kept it for its whole TTL, so fresh identities from one IP, one after another, took
 * every slot. Identities are free, so the hourly budget per IP bounds how many new ones
 * an address gets. A holder that returns before the expiry gets its own reservation
 * back, refreshed (a new one would be deleted by the old one's expiry timer in the stock
 * store).
 */
export class RelayServiceGate {
  private readonly components: RelayServiceGateComponents
  private readonly limits: RelayServiceLimits
  private readonly allow: () => boolean
  private readonly ledger: ReservationLedger<RelayReservation>
  private readonly circuitsPerPeer = new Tally()
  private readonly circuitsPerIp = new Tally()
  private registered?: { options: StreamHandlerOptions }
  private stock?: { pb: StockPb, server: StockHopServer }
  private offered = true
  private open = 0
  /** requests refused since start, by reason (the config key of the cap, or 'malformed'): burrow_relay_refusals_total */
  readonly refusals = new Map<string, number>()

  private readonly log: Logger

  constructor (components: RelayServiceGateComponents, limits: RelayServiceLimits, allow: () => boolean) {
    this.log = components.log
    this.components = components
    this.limits = limits
    this.allow = allow
    this.ledger = new ReservationLedger({
      maxPerIp: limits.maxReservationsPerIp,
      perIpPerHour: limits.reservationsPerIpPerHour,
      maxLeft: MAX_LEFT_RESERVATIONS_KEPT,
      maxKeys: MAX_BUDGETED_ADDRESSES
    })
  }

  /** Takes over the stock server's hop handler; call once, after libp2p started. */
  async start (): Promise<void> {
    if (this.registered != null) return
    let options: StreamHandlerOptions
    try {
      options = this.components.registrar.getHandler(RELAY_HOP_PROTOCOL).options
    } catch {
      return
    }
    this.stock = await loadStockHop(this.components.relay)
    this.registered = { options }
    await this.components.registrar.unhandle(RELAY_HOP_PROTOCOL)
    this.components.events.addEventListener('peer:disconnect', this.onDisconnect)
    this.offered = false
    await this.update()
  }

  /** Withdraws the hop protocol and stops listening for disconnects. */
  async stop (): Promise<void> {
    if (this.registered == null) return
    this.components.events.removeEventListener('peer:disconnect', this.onDisconnect)
    if (this.offered) await this.components.registrar.unhandle(RELAY_HOP_PROTOCOL)
    this.offered = false
    this.registered = undefined
  }

  /** Reservations this relay holds for others right now. */
  get reservationsServed (): number {
    return this.components.relay.reservations.size
  }

  /** Whether the hop protocol is offered right now. */
  get offering (): boolean {
    return this.registered != null && this.offered
  }

  /** Offers or withdraws the hop protocol to match `allow()`. */
  async update (): Promise<void> {
    if (this.registered == null) return
    const want = this.allow()
    if (want === this.offered) return
    this.offered = want
    if (want) {
      await this.components.registrar.handle(RELAY_HOP_PROTOCOL, this.handler, this.registered.options)
      this.log('relay service offered')
    } else {
      await this.components.registrar.unhandle(RELAY_HOP_PROTOCOL)
      this.log('relay service withdrawn while not publicly reachable')
    }
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.dropLeft(evt.detail)
  }

  /** A holder without connections loses its reservation (it is kept to hand back if it returns). */
  private dropLeft (peer: PeerId): void {
    this.ledger.leave(peer.toString())
    const reservations = this.components.relay.reservations
    if (!reservations.has(peer)) return
    reservations.delete(peer)
    this.log('reservation of %p dropped: its last connection closed', peer)
  }

  private readonly handler = async (stream: Stream, connection: Connection): Promise<void> => {
    const stock = this.stock
    if (stock == null) return
    const { pb, server } = stock
    const signal = AbortSignal.timeout(HOP_TIMEOUT_MS)
    const pbstr = pbStream(stream)
    const hop = pbstr.pb(pb.HopMessage)
    const refuse = async (status: string, why: string): Promise<void> => {
      this.tell(String(status), why)
      this.countRefusal(/\(relay\.(\w+)\)$/.exec(why)?.[1] ?? 'malformed')
      try {
        await hop.write({ type: pb.HopMessage.Type.STATUS, status }, { signal })
        await stream.close({ signal })
      } catch (err) {
        stream.abort(err as Error)
      }
    }

    this.open++
    stream.addEventListener('close', () => { this.open-- }, { once: true })
    if (this.open > this.limits.maxCircuits) {
      await refuse(pb.Status.RESOURCE_LIMIT_EXCEEDED, `hop stream from ${connection.remotePeer.toString()} refused: ${this.limits.maxCircuits} open over all peers (relay.maxCircuits)`)
      return
    }

    let request: HopRequest
    try {
      request = await hop.read({ signal })
    } catch (err) {
      await refuse(pb.Status.MALFORMED_MESSAGE, `hop request from ${connection.remotePeer.toString()} unreadable: ${String((err as Error).message ?? err).split('\n')[0]}`)
      return
    }

    try {
      await this.answer(connection, { stream, request, pbstr, signal, refuse, pb, server })
    } catch (err) {
      // the stock handler answered what it could; a peer's request never throws past here
      this.log('hop request from %p failed - %e', connection.remotePeer, err)
      stream.abort(err as Error)
    }
  }

  /** Steps 2 and 3 (see the class comment), then the stock handler. */
  private async answer (connection: Connection, hop: HopExchange): Promise<void> {
    const { stream, request, pbstr, signal, refuse, pb, server } = hop
    const peer = connection.remotePeer.toString()
    // relayed connections have no IP; the stock handler refuses hop requests over them
    const ip = ipKey(connection.remoteAddr.toString())
    if (ip != null && request.type === pb.HopMessage.Type.RESERVE) {
      await this.reserve(connection, ip, hop)
      return
    }
    if (ip != null && request.type === pb.HopMessage.Type.CONNECT) {
      if (this.circuitsPerPeer.get(peer) >= this.limits.maxCircuitsPerPeer) {
        await refuse(pb.Status.RESOURCE_LIMIT_EXCEEDED, `circuit from ${peer} refused: it has ${this.limits.maxCircuitsPerPeer} open (relay.maxCircuitsPerPeer)`)
        return
      }
      if (this.circuitsPerIp.get(ip) >= this.limits.maxCircuitsPerIp) {
        await refuse(pb.Status.RESOURCE_LIMIT_EXCEEDED, `circuit from ${peer} refused: ${ip} has ${this.limits.maxCircuitsPerIp} open (relay.maxCircuitsPerIp)`)
        return
      }
      // a circuit lasts as long as its hop stream
      this.circuitsPerPeer.add(peer, 1)
      this.circuitsPerIp.add(ip, 1)
      stream.addEventListener('close', () => {
        this.circuitsPerPeer.add(peer, -1)
        this.circuitsPerIp.add(ip, -1)
      }, { once: true })
    }
    await server.handleHopProtocol({ connection, stream: pbstr, request }, { signal })
  }

  /** One log line per refusal, and the node's 'relay:refused' event. */
  private tell (status: string, why: string): void {
    this.log('%s: %s', status, why)
    try {
      this.components.onRefused?.(status, why)
    } catch (err) {
      this.log.error('a refusal listener threw - %e', err)
    }
  }

  private async reserve (connection: Connection, ip: string, hop: HopExchange): Promise<void> {
    const { remotePeer } = connection
    const peer = remotePeer.toString()
    const reservations = this.components.relay.reservations
    const refused = this.ledger.admit(peer, ip)
    if (refused === 'per-ip') {
      await hop.refuse(hop.pb.Status.RESERVATION_REFUSED, `reservation for ${peer} refused: ${ip} holds ${this.ledger.count(ip)} (relay.maxReservationsPerIp)`)
      return
    }
    if (refused === 'per-hour') {
      await hop.refuse(hop.pb.Status.RESERVATION_REFUSED, `reservation for ${peer} refused: ${ip} got its ${this.limits.reservationsPerIpPerHour} new reservations of the hour (relay.reservationsPerIpPerHour)`)
      return
    }
    // a reservation dropped when its holder disconnected comes back as a refresh of itself
    const held = this.ledger.held(peer)
    if (held != null && !reservations.has(remotePeer)) {
      if (reservations.size >= this.limits.maxReservations) {
        this.ledger.settle(peer, undefined)
        await hop.refuse(hop.pb.Status.RESERVATION_REFUSED, `reservation for ${peer} refused: ${this.limits.maxReservations} held (relay.maxReservations)`)
        return
      }
      reservations.set(remotePeer, held)
    }
    try {
      await hop.server.handleHopProtocol({ connection, stream: hop.pbstr, request: hop.request }, { signal: hop.signal })
    } finally {
      const now = reservations.get(remotePeer)
      // the stock server refused it (its own cap, which is ours): told like our refusals
      if (now == null && reservations.size >= this.limits.maxReservations) {
        this.tell('RESERVATION_REFUSED', `reservation for ${peer} refused: ${this.limits.maxReservations} held (relay.maxReservations)`)
        this.countRefusal('maxReservations')
      }
      this.ledger.settle(peer, now)
      // the holder left while its request was handled
      if (now != null && this.components.connections(remotePeer).length === 0) this.dropLeft(remotePeer)
    }
  }

  private countRefusal (reason: string): void {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1)
  }
}
