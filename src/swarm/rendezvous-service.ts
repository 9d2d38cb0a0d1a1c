/**
 * The rendezvous provider as a libp2p service: a private node announces itself under its
 * rendezvous key (src/swarm/rendezvous.ts) once it holds a reservation, again when its
 * relay addresses change, and every RENDEZVOUS_REFRESH_MS. It looks when its addresses
 * change (`self:peer:update`: a reservation adds the circuit address) and every
 * RENDEZVOUS_CHECK_MS.
 */
import { serviceDependencies } from '@libp2p/interface'
import { isCircuitAddress } from '../connections/index.js'
import { provideSelf, RENDEZVOUS_REFRESH_MS } from './rendezvous.js'
import type { ReachabilitySource } from '../nat/index.js'
import type { ComponentLogger, Libp2pEvents, Logger, PeerId, Startable, TypedEventTarget } from '@libp2p/interface'
import type { AddressManager } from '@libp2p/interface-internal'
import type { KadDHT } from '@libp2p/kad-dht'

/** How often a private node checks whether its rendezvous record needs a refresh. */
export const RENDEZVOUS_CHECK_MS = 5_000

/** One provide may take this long (a DHT walk to the k closest peers). */
export const RENDEZVOUS_PROVIDE_TIMEOUT_MS = 60_000

export interface RendezvousComponents {
  peerId: PeerId
  dht: Pick<KadDHT, 'provide'>
  addressManager: Pick<AddressManager, 'getAddresses'>
  reachability: ReachabilitySource
  logger: ComponentLogger
  /** libp2p's events: `self:peer:update` when our addresses change */
  events?: Pick<TypedEventTarget<Libp2pEvents>, 'addEventListener' | 'removeEventListener'>
}

export interface RendezvousStatus {
  providedAt: string | null
}

export class RendezvousService implements Startable {
  private readonly components: RendezvousComponents
  private readonly log: Logger
  private timer?: ReturnType<typeof setInterval>
  private providedFor = ''
  private providedAt = 0
  private providing = false
  private readonly onChange = (): void => { void this.maybeProvide() }

  constructor (components: RendezvousComponents) {
    this.components = components
    this.log = components.logger.forComponent('burrow:swarm:rendezvous')
  }

  readonly [Symbol.toStringTag] = 'burrow:rendezvous'
  readonly [serviceDependencies]: string[] = ['@libp2p/content-routing', '@burrow/reachability']

  start (): void {
    this.components.reachability.addEventListener('reachability:changed', this.onChange)
    this.components.events?.addEventListener('self:peer:update', this.onChange)
    this.timer = setInterval(this.onChange, RENDEZVOUS_CHECK_MS)
    this.timer.unref()
  }

  afterStart (): void {
    void this.maybeProvide()
  }

  stop (): void {
    this.components.reachability.removeEventListener('reachability:changed', this.onChange)
    this.components.events?.removeEventListener('self:peer:update', this.onChange)
    clearInterval(this.timer)
    this.timer = undefined
  }

  status (): RendezvousStatus {
    return { providedAt: this.providedAt > 0 ? new Date(this.providedAt).toISOString() : null }
  }

  /** Provides the rendezvous record when private with relay addresses that changed or aged. */
  async maybeProvide (): Promise<void> {
    if (this.providing) return
    if (this.components.reachability.current.reachability === 'public') return
    const relayed = this.components.addressManager.getAddresses().map(String).filter(a => isCircuitAddress(a)).sort().join(' ')
    if (relayed === '') return
    if (relayed === this.providedFor && Date.now() - this.providedAt < RENDEZVOUS_REFRESH_MS) return
    this.providing = true
    try {
      const { key, stored } = await provideSelf(this.components.dht, this.components.peerId, { signal: AbortSignal.timeout(RENDEZVOUS_PROVIDE_TIMEOUT_MS) })
      this.log('provided rendezvous key %s (%d responses)', key, stored)
      this.providedFor = relayed
      this.providedAt = Date.now()
    } catch (err) {
      this.log('could not provide our rendezvous record - %e', err)
    } finally {
      this.providing = false
    }
  }
}

export function rendezvous (): (components: RendezvousComponents) => RendezvousService {
  return (components) => new RendezvousService(components)
}
