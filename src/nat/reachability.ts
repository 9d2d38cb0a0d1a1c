import { TypedEventEmitter, serviceCapabilities } from '@libp2p/interface'
import { isPrivate } from '@libp2p/utils'
import { isCircuitAddress, isRelayed } from '../connections/index.js'
import { tcpEndpoint } from './observed.js'
import type { ObservedAddresses } from './observed.js'
import type { MappingBehaviour } from './observed.js'
import type { Connection, IdentifyResult, Libp2pEvents, TypedEventTarget, Startable, Logger, ComponentLogger } from '@libp2p/interface'
import type { AddressManager } from '@libp2p/interface-internal'


/** Endpoints remembered so 'address:observed' tells each once: a NAT gives a handful, a symmetric one one per observer. */
const MAX_SEEN_ENDPOINTS = 64

export type Reachability = 'public' | 'private' | 'unknown'

export interface ReachabilityState {
  reachability: Reachability
  /** what the verdict rests on: 'autonat', 'port-mapping', 'manual', 'observed-address' or 'none' */
  source: string
  /** one line a person can act on */
  reason: string
  behindNat: boolean | undefined
  mapping: MappingBehaviour
}

/** The reachability verdict and its change event: what other services follow (ReachabilityService gives it). */
export interface ReachabilitySource extends TypedEventTarget<{ 'reachability:changed': CustomEvent<ReachabilityState> }> {
  readonly current: ReachabilityState
}

export interface ReachabilityStatus {
  reachability: Reachability
  source: string
  reason: string
  nat: { mapping: MappingBehaviour, behindNat: boolean | null, publicAddresses: string[] }
  /** our TCP endpoints as peers saw them */
  observed: string[]
}

export interface ReachabilityEvents {
  /** a peer told us (identify) an address of ours not told before */
  'address:observed': CustomEvent<{ address: string, by: string }>
  'reachability:changed': CustomEvent<ReachabilityState>
}

export interface ReachabilityComponents {
  events: TypedEventTarget<Libp2pEvents>
  addressManager: AddressManager
  logger: ComponentLogger
}

export interface ReachabilityInit {
  /** true for an outbound connection that left from the stable dial port; others say nothing about it */
  fromDialPort?: (conn: Connection) => boolean
  /** addresses set by hand (--announce): the user says they are reachable */
  manual: boolean
  /** what peers observed of our connections (shared with hole punching) */
  observed: ObservedAddresses
}

/** How often the verdict is recomputed (AutoNAT results arrive in the address manager). */
const RECHECK_MS = 2_000

/**
 * Whether this node can be dialled from the internet, and why.
 *
 * - `public`: an address of ours passed a dial-back (AutoNAT v2, recorded as verified in
 *   the address manager), or a port mapping / manual forward was confirmed.
 * - `private`: peers see our connections come from an IP that is not ours, so we sit
 *   behind a NAT, and nothing verified a way in. This is known after the first identify
 *   exchange with one peer, so a node behind any NAT (symmetric included) asks for relay
 *   reservations at once instead of waiting for dial-backs that cannot succeed.
 * - `unknown`: nothing observed yet, or no NAT in the way but no dial-back confirmed yet.
 */
export class ReachabilityService extends TypedEventEmitter<ReachabilityEvents> implements Startable {
  readonly observed: ObservedAddresses
  /** observed endpoints already told as 'address:observed' */
  private readonly seen = new Set<string>()
  private readonly components: ReachabilityComponents
  private readonly init: ReachabilityInit
  private state: ReachabilityState = { reachability: 'unknown', source: 'none', reason: 'no peer has reported our address yet', behindNat: undefined, mapping: 'unknown' }
  private timer?: ReturnType<typeof setInterval>
  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => { this.record(evt.detail) }

  private readonly log: Logger

  constructor (components: ReachabilityComponents, init: ReachabilityInit) {
    super()
    this.log = components.logger.forComponent('burrow:nat:reachability')
    this.components = components
    this.init = init
    this.observed = init.observed
  }

  readonly [Symbol.toStringTag] = 'burrow:reachability'
  readonly [serviceCapabilities]: string[] = ['@burrow/reachability']

  start (): void {
    if (this.timer != null) return
    this.components.events.addEventListener('peer:identify', this.onIdentify)
    this.timer = setInterval(() => { this.update() }, RECHECK_MS)
    this.timer.unref()
  }

  stop (): void {
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
    clearInterval(this.timer)
    this.timer = undefined
  }

  get current (): ReachabilityState {
    return this.state
  }

  /** This service's slice of `status`: the verdict and what peers told us about our address. */
  status (): ReachabilityStatus {
    const s = this.state
    return {
      reachability: s.reachability,
      source: s.source,
      reason: s.reason,
      nat: { mapping: s.mapping, behindNat: s.behindNat ?? null, publicAddresses: this.observed.publicIps() },
      observed: this.observed.candidates().map(c => `/${c.ip.includes(':') ? 'ip6' : 'ip4'}/${c.ip}/tcp/${c.port}`)
    }
  }

  private record (result: IdentifyResult): void {
    const conn = result.connection
    if (result.observedAddr == null || isRelayed(conn)) return
    const ep = tcpEndpoint(result.observedAddr)
    const remote = tcpEndpoint(conn.remoteAddr)
    if (ep == null || remote == null) return
    this.observed.add({
      observer: result.peerId.toString(),
      observerIp: remote.ip,
      ip: ep.ip,
      port: ep.port,
      direction: conn.direction,
      fromDialPort: conn.direction === 'outbound' && (this.init.fromDialPort?.(conn) ?? false),
      at: Date.now()
    })
    this.log.trace('%p sees us at %s:%d (%s)', result.peerId, ep.ip, ep.port, conn.direction)
    const endpoint = `${ep.ip.includes(':') ? `[${ep.ip}]` : ep.ip}:${ep.port}`
    if (!this.seen.has(endpoint)) {
      this.seen.add(endpoint)
      // bounded: the oldest endpoint is forgotten first (it may be told again later)
      if (this.seen.size > MAX_SEEN_ENDPOINTS) this.seen.delete(this.seen.values().next().value as string)
      this.safeDispatchEvent('address:observed', { detail: { address: `/${ep.ip.includes(':') ? 'ip6' : 'ip4'}/${ep.ip}/tcp/${ep.port}`, by: result.peerId.toString() } })
    }
    this.update()
  }

  /** Recomputes the verdict; emits 'reachability:changed' when it changed. */
  update (): void {
    const next = this.compute()
    const prev = this.state
    this.state = next
    if (prev.reachability !== next.reachability || prev.source !== next.source || prev.mapping !== next.mapping) {
      this.log('reachability %s (%s): %s', next.reachability, next.source, next.reason)
      this.safeDispatchEvent('reachability:changed', { detail: next })
    }
  }

  private compute (): ReachabilityState {
    const behindNat = this.observed.behindNat()
    const mapping = this.observed.mapping()
    const base = { behindNat, mapping }
    if (this.init.manual) {
      return { ...base, reachability: 'public', source: 'manual', reason: 'reachable at the address given with --announce' }
    }
    const verified = this.components.addressManager.getAddressesWithMetadata()
      .filter(a => a.verified && !isCircuitAddress(a.multiaddr) && isPrivate(a.multiaddr) !== true)
    const mapped = verified.find(a => a.type === 'ip-mapping')
    if (mapped != null) {
      return { ...base, reachability: 'public', source: 'port-mapping', reason: `reachable through the port mapped on the router at ${mapped.multiaddr.toString()}` }
    }
    if (verified.length > 0) {
      return { ...base, reachability: 'public', source: 'autonat', reason: `a dial-back to ${verified[0]?.multiaddr.toString() ?? ''} succeeded` }
    }
    if (behindNat === true) {
      const kind = mapping === 'endpoint-dependent'
        ? 'a symmetric NAT (a new public port for every destination)'
        : mapping === 'endpoint-independent' ? 'a NAT with endpoint-independent mapping' : 'a NAT'
      return { ...base, reachability: 'private', source: 'observed-address', reason: `behind ${kind}: peers see us at ${this.observed.publicIps().join(', ')}; reachable through relays` }
    }
    if (behindNat === false) {
      return { ...base, reachability: 'unknown', source: 'observed-address', reason: 'no NAT in the way; waiting for a dial-back to confirm that no firewall blocks us' }
    }
    return { ...base, reachability: 'unknown', source: 'none', reason: 'no peer has reported our address yet' }
  }
}

export function reachability (init: ReachabilityInit): (components: ReachabilityComponents) => ReachabilityService {
  return (components) => new ReachabilityService(components, init)
}
