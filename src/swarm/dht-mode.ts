/**
 * DHT mode switching as a libp2p service: in an own swarm with `dhtMode: 'auto'` the DHT
 * serves only while this node is reachable (a private node in server mode is an entry in
 * everyone's routing table that nobody can dial). Its status is the DHT's slice of
 * `status`, the routing-table size read from the DHT itself.
 */
import { serviceDependencies } from '@libp2p/interface'
import type { ComponentLogger, IdentifyResult, Libp2pEvents, Logger, PeerId, PeerInfo, PeerStore, Startable, TypedEventTarget } from '@libp2p/interface'
import type { ReachabilitySource, ReachabilityState } from '../nat/index.js'
import type { Identify } from '@libp2p/identify'
import type { ConnectionManager } from '@libp2p/interface-internal'

/** What the DHT mode service needs of the DHT: its mode, and its routing table's size. */
export interface DhtLike {
  getMode: () => 'client' | 'server'
  setMode: (mode: 'client' | 'server') => Promise<void>
  /** kad-dht's own entry for a peer that speaks the DHT (it pings the peer, then adds it) */
  onPeerConnect?: (peer: PeerInfo) => Promise<void>
}


export interface DhtModeComponents {
  dht: DhtLike
  reachability: ReachabilitySource
  logger: ComponentLogger
  /** the connections open once libp2p started, identified once more (see afterStart) */
  connectionManager?: Pick<ConnectionManager, 'getConnections'>
  identify?: Pick<Identify, 'identify'>
  /** the protocols identify recorded for each peer, and its addresses (see refill) */
  peerStore?: Pick<PeerStore, 'get'>
  /** libp2p's events: `peer:identify` tells when a peer stopped serving the DHT */
  events?: Pick<TypedEventTarget<Libp2pEvents>, 'addEventListener' | 'removeEventListener'>
}

/** How long the re-identify of a connection open at start may take. */
export const REIDENTIFY_TIMEOUT_MS = 10_000

/** How often an empty routing table is checked against the open connections (see refill). */
export const TABLE_REFILL_MS = 5_000

/** At most this many connected peers are offered to an empty routing table at a time (kad-dht's K). */
export const TABLE_REFILL_MAX = 20

/**
 * At most this many connections are looked at per check, the next ones at the next check: a
 * relay holds thousands of reservations from DHT clients and its table may well be empty.
 */
export const TABLE_REFILL_SCAN = 64

export interface DhtModeInit {
  /** the DHT protocol this network speaks (for status) */
  protocol: string
  /** switch with reachability (config dhtMode 'auto' on an own swarm); false: leave the mode as configured */
  auto: boolean
}

export interface DhtStatus {
  protocol: string
  mode: 'client' | 'server'
  routingTable: number
}

export class DhtModeService implements Startable {
  private readonly components: DhtModeComponents
  private readonly init: DhtModeInit
  private readonly log: Logger
  private readonly onChange = (evt: CustomEvent<ReachabilityState>): void => { this.follow(evt.detail) }
  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => { this.identified(evt.detail) }
  private refillTimer?: ReturnType<typeof setInterval>
  private refilling = false
  /** where the next check starts in the list of connections */
  private refillOffset = 0

  constructor (components: DhtModeComponents, init: DhtModeInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('burrow:swarm:dht-mode')
  }

  readonly [Symbol.toStringTag] = 'burrow:dht-mode'
  readonly [serviceDependencies]: string[] = ['@libp2p/peer-routing', '@burrow/reachability']

  start (): void {
    this.components.events?.addEventListener('peer:identify', this.onIdentify)
    this.refillTimer = setInterval(() => { void this.refill() }, TABLE_REFILL_MS)
    this.refillTimer.unref()
    if (!this.init.auto) return
    this.components.reachability.addEventListener('reachability:changed', this.onChange)
  }

  /**
   * Components start together: a bootstrap connection identified before the DHT registered
   * its topology never enters the routing table (seen once the webrtc transport slowed
   * start down), so the connections open by now are identified once more. And the verdict
   * may have changed while libp2p was starting (identify is quick).
   */
  afterStart (): void {
    const { connectionManager, identify } = this.components
    if (connectionManager != null && identify != null) {
      for (const c of connectionManager.getConnections()) {
        void identify.identify(c, { signal: AbortSignal.timeout(REIDENTIFY_TIMEOUT_MS) }).catch(err => { this.log('re-identify %p failed - %e', c.remotePeer, err) })
      }
    }
    if (this.init.auto) this.follow(this.components.reachability.current)
  }

  stop (): void {
    clearInterval(this.refillTimer)
    this.refillTimer = undefined
    this.components.events?.removeEventListener('peer:identify', this.onIdentify)
    this.components.reachability.removeEventListener('reachability:changed', this.onChange)
  }

  /**
   * A peer that no longer speaks the DHT protocol leaves our routing table. kad-dht adds a
   * peer when identify lists the protocol and keeps it until a ping fails: a private node
   * (which serves the DHT at start, until it knows it is behind a NAT) stayed in every
   * table it met, and lookups then dialled it through its relays (in the lab, two peers
   * that had never dialled each other were joined that way before either did).
   */
  private identified (result: IdentifyResult): void {
    if (result.protocols.includes(this.init.protocol)) return
    const table = (this.components.dht as { routingTable?: { find?: (peer: PeerId) => Promise<unknown>, remove?: (peer: PeerId) => Promise<void> } }).routingTable
    if (typeof table?.find !== 'function' || typeof table.remove !== 'function') return
    const { find, remove } = { find: table.find.bind(table), remove: table.remove.bind(table) }
    void find(result.peerId).then(async (found) => {
      if (found == null) return
      this.log('%p no longer serves %s: out of the routing table', result.peerId, this.init.protocol)
      await remove(result.peerId)
    }).catch(err => { this.log('could not take %p out of the routing table - %e', result.peerId, err) })
  }

  /**
   * An empty routing table gets the connected peers that speak the DHT once more. kad-dht
   * adds a peer when identify lists the protocol and a ping answers within its timeout
   * (5 s at first, all of it within 10 s); a peer whose ping did not answer stays out until
   * the next connection to it. With a single DHT server, such as a small swarm's one
   * bootstrap and relay node, that left the node without a DHT for as long as that
   * connection lasted: every find and provide (the rendezvous record) waited for a peer
   * that never came, so the node could not be found by its PeerId. Seen in the lab in
   * about 1 of 50 node starts: the first ping to the relay stalled 5 s and failed.
   */
  async refill (): Promise<number> {
    const { dht, connectionManager, peerStore } = this.components
    if (this.refilling || routingTableSize(dht) > 0) return 0
    if (typeof dht.onPeerConnect !== 'function' || connectionManager == null || peerStore == null) return 0
    this.refilling = true
    let offered = 0
    try {
      const seen = new Set<string>()
      const all = connectionManager.getConnections()
      if (this.refillOffset >= all.length) this.refillOffset = 0
      const batch = all.slice(this.refillOffset, this.refillOffset + TABLE_REFILL_SCAN)
      this.refillOffset += batch.length
      for (const conn of batch) {
        if (offered >= TABLE_REFILL_MAX) break
        const id = conn.remotePeer.toString()
        if (conn.status !== 'open' || conn.limits != null || seen.has(id)) continue
        seen.add(id)
        const peer = await peerStore.get(conn.remotePeer).catch(() => undefined)
        if (peer?.protocols.includes(this.init.protocol) !== true) continue
        this.log('routing table empty: offering %p again (connected, speaks %s)', conn.remotePeer, this.init.protocol)
        offered++
        dht.onPeerConnect({ id: conn.remotePeer, multiaddrs: peer.addresses.map(a => a.multiaddr) })
          .catch(err => { this.log('could not offer %p to the routing table - %e', conn.remotePeer, err) })
      }
    } finally {
      this.refilling = false
    }
    return offered
  }

  status (): DhtStatus {
    return { protocol: this.init.protocol, mode: this.components.dht.getMode(), routingTable: routingTableSize(this.components.dht) }
  }

  private follow (state: ReachabilityState): void {
    const mode = state.reachability === 'private' ? 'client' : 'server'
    if (this.components.dht.getMode() === mode) return
    this.components.dht.setMode(mode).catch(err => { this.log.error('could not switch the DHT to %s mode - %e', mode, err) })
  }
}

/**
 * Peers in the DHT's routing table: kad-dht keeps the table on its class
 * (`SingleKadDHT.routingTable`), not in the `KadDHT` interface.
 */
export function routingTableSize (dht: object): number {
  const table = (dht as { routingTable?: { size?: unknown } }).routingTable
  return typeof table?.size === 'number' ? table.size : 0
}

export function dhtMode (init: DhtModeInit): (components: DhtModeComponents) => DhtModeService {
  return (components) => new DhtModeService(components, init)
}
