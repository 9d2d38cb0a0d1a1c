import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { RELAY_HOP_PROTOCOL, RELAY_RETRY_MAX_MS, RELAY_RETRY_MIN_MS, RESERVATION_CHECK_INTERVAL_MS, RESERVE_TIMEOUT_MS } from './constants.js'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId, PeerStore, Startable, TypedEventTarget, Libp2pEvents, ComponentLogger, Logger } from '@libp2p/interface'
import type { AddressManager, ConnectionManager, TransportManager } from '@libp2p/interface-internal'
import { isCircuitVia, isRelayed, relayOf } from '../connections/index.js'
import { findReservationStore } from '../upstream/index.js'
import type { StockReservationStore } from '../upstream/index.js'
import type { ReachabilitySource, ReachabilityState } from '../nat/index.js'


export interface RelayClientComponents {
  peerId: PeerId
  peerStore: PeerStore
  addressManager: AddressManager
  connectionManager: ConnectionManager
  transportManager: TransportManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
  /** reservations are wanted while the node is private (src/nat ReachabilityService) */
  reachability: ReachabilitySource
}

export interface RelayClientInit {
  /** how many relays to hold a reservation on while private */
  reservations: number
  /** relay candidates given by the user (the bootstrap list): multiaddrs ending in /p2p/PEERID */
  candidates: string[]
}

export interface ReservationState {
  relay: string
  /** when this node got the reservation (first saw it), ISO time */
  reservedAt: string | null
  expiresAt: string | null
  addresses: string[]
}

/**
 * Holds reservations on `reservations` relays while the node is private, and fails
 * over when a relay dies.
 *
 * Built on the stock circuit relay v2 transport (it makes the reservation and accepts
 * relayed connections), but the choice of relays is ours: the stock client marks a
 * relay it once failed to dial as invalid for good, so it never re-reserves after a
 * relay restart (js-libp2p #3601). Here a relay is dialled by us first and only then
 * handed to the transport, and an unreachable relay is retried with backoff.
 */
export class RelayClient implements Startable {
  private readonly components: RelayClientComponents
  private readonly init: RelayClientInit
  private timer?: ReturnType<typeof setInterval>
  private wanted = false
  private readonly busy = new Set<string>()
  private readonly retryAt = new Map<string, { at: number, delay: number }>()
  /** relays we hold a reservation on, and when we got it */
  private readonly held = new Map<string, number>()
  private running = false

  private readonly log: Logger

  constructor (components: RelayClientComponents, init: RelayClientInit) {
    this.log = components.logger.forComponent('burrow:relay:client')
    this.components = components
    this.init = init
  }

  readonly [Symbol.toStringTag] = 'burrow:relay-client'

  private readonly onReachability = (evt: CustomEvent<ReachabilityState>): void => { this.follow(evt.detail) }

  /** Reservations while private, or while unknown behind a NAT. */
  private follow (state: ReachabilityState): void {
    this.setWanted(state.reachability === 'private' || (state.reachability === 'unknown' && state.behindNat === true))
  }

  afterStart (): void {
    this.components.reachability.addEventListener('reachability:changed', this.onReachability)
    // the verdict may have changed while libp2p was starting (identify is quick)
    this.follow(this.components.reachability.current)
  }

  beforeStop (): void {
    this.components.reachability.removeEventListener('reachability:changed', this.onReachability)
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.timer = setInterval(() => { this.check() }, RESERVATION_CHECK_INTERVAL_MS)
    this.timer.unref()
  }

  stop (): void {
    this.running = false
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** Turn reservations on (the node is private) or off. */
  setWanted (wanted: boolean): void {
    if (this.wanted === wanted) return
    this.wanted = wanted
    this.log('reservations %s', wanted ? 'wanted' : 'not wanted')
    this.check()
  }

  get isWanted (): boolean {
    return this.wanted
  }

  /** Current reservations, as the stock transport holds them. */
  reservations (): ReservationState[] {
    const store = this.stockStore()
    const out: ReservationState[] = []
    const addrs = this.components.addressManager.getAddresses().map(String)
    for (const relay of this.relaysInAddresses()) {
      const id = peerIdFromString(relay)
      const r = store?.getReservation(id)
      out.push({
        relay,
        reservedAt: this.held.has(relay) ? new Date(this.held.get(relay) ?? 0).toISOString() : null,
        expiresAt: r != null ? new Date(Number(r.expire) * 1000).toISOString() : null,
        addresses: addrs.filter(a => isCircuitVia(a, relay))
      })
    }
    return out
  }

  /** Relays whose circuit address we currently announce. */
  private relaysInAddresses (): Set<string> {
    const relays = new Set<string>()
    for (const a of this.components.addressManager.getAddresses()) {
      const relay = relayOf(a)
      if (relay != null) relays.add(relay)
    }
    return relays
  }

  /** The stock transport's reservation store (patch relay-reservation-store, checked at start). */
  private stockStore (): StockReservationStore | undefined {
    return findReservationStore(this.components.transportManager.getTransports())
  }

  private check (): void {
    if (!this.running) return
    const current = this.relaysInAddresses()
    for (const r of [...this.held.keys()]) {
      if (!current.has(r)) {
        this.log('reservation on relay %s is gone', r)
        this.held.delete(r)
        this.backoff(r)
      }
    }
    for (const r of current) this.held.set(r, this.held.get(r) ?? Date.now())
    if (!this.wanted || this.busy.size > 0) return
    if (this.held.size >= this.init.reservations) return
    // one request at a time: two reservation requests in flight at once can stall the
    // stock transport's listener
    this.busy.add('')
    void this.candidates().then(async (all) => {
      const now = Date.now()
      const next = all.find(c => !this.held.has(c.id) && (this.retryAt.get(c.id)?.at ?? 0) <= now)
      if (next != null) await this.reserve(next.id, next.addr)
    }).finally(() => {
      this.busy.delete('')
      if (this.held.size < this.init.reservations && this.running) setTimeout(() => { this.check() }, 50).unref()
    })
  }

  /** The bootstrap list first, then connected peers that told identify they speak the hop protocol. */
  private async candidates (): Promise<Array<{ id: string, addr?: Multiaddr }>> {
    const out: Array<{ id: string, addr?: Multiaddr }> = []
    for (const s of this.init.candidates) {
      try {
        const ma = multiaddr(s)
        const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
        if (id != null && id !== this.components.peerId.toString()) out.push({ id, addr: ma })
      } catch {}
    }
    for (const conn of this.components.connectionManager.getConnections()) {
      const id = conn.remotePeer.toString()
      if (out.some(c => c.id === id) || isRelayed(conn)) continue
      const protocols = (await this.components.peerStore.get(conn.remotePeer).catch(() => undefined))?.protocols ?? []
      if (protocols.includes(RELAY_HOP_PROTOCOL)) out.push({ id })
    }
    return out
  }

  private async reserve (id: string, addr?: Multiaddr): Promise<void> {
    this.log('trying relay %s', id)
    const signal = AbortSignal.timeout(RESERVE_TIMEOUT_MS)
    try {
      const peer = peerIdFromString(id)
      const conn = await this.components.connectionManager.openConnection(addr ?? peer, { signal })
      if (isRelayed(conn)) throw new Error('only a relayed connection to it')
      // identify tells us whether it relays; wait for it briefly
      let protocols: string[] = []
      for (let i = 0; i < 20; i++) {
        protocols = (await this.components.peerStore.get(peer).catch(() => undefined))?.protocols ?? []
        if (protocols.length > 0) break
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      if (!protocols.includes(RELAY_HOP_PROTOCOL)) throw new Error('it offers no relay service')
      const relayAddr = conn.remoteAddr.toString().includes(`/p2p/${id}`) ? conn.remoteAddr : conn.remoteAddr.encapsulate(`/p2p/${id}`)
      this.log('asking %s for a reservation', id)
      await raceTimeout(this.components.transportManager.listen([relayAddr.encapsulate('/p2p-circuit')]), RESERVE_TIMEOUT_MS, 'the reservation request timed out')
      this.held.set(id, this.held.get(id) ?? Date.now())
      this.retryAt.delete(id)
      this.log('reservation on relay %s via %a', id, relayAddr)
    } catch (err) {
      this.log('no reservation on %s - %s', id, (err as Error).message)
      this.backoff(id)
    }
  }

  private backoff (id: string): void {
    const prev = this.retryAt.get(id)?.delay ?? 0
    const delay = Math.min(RELAY_RETRY_MAX_MS, Math.max(RELAY_RETRY_MIN_MS, prev * 2))
    this.retryAt.set(id, { at: Date.now() + delay, delay })
  }
}

async function raceTimeout<T> (p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(message)) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}

export function relayClient (init: RelayClientInit): (components: RelayClientComponents) => RelayClient {
  return (components) => new RelayClient(components, init)
}
