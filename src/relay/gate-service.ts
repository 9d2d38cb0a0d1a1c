/**
 * The relay service gate as a libp2p service: once libp2p started it takes over the stock
 * relay server's hop handler (RelayServiceGate) and offers relay service only while
 * allowed ('auto': only while publicly reachable), re-checking on every reachability
 * change. Other services (the STUN server) follow its 'relay:offering' event.
 */
import { TypedEventEmitter, serviceCapabilities, serviceDependencies } from '@libp2p/interface'
import { RelayServiceGate } from './server.js'
import type { RelayServiceLimits } from './server.js'
import type { ReachabilitySource } from '../nat/index.js'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { ComponentLogger, Libp2pEvents, Logger, Startable, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'

export interface RelayGateComponents {
  registrar: Registrar
  events: TypedEventTarget<Libp2pEvents>
  connectionManager: Pick<ConnectionManager, 'getConnections'>
  /** the stock circuit relay v2 server (the gate stays idle without one) */
  relay?: CircuitRelayService
  reachability: ReachabilitySource
  logger: ComponentLogger
}

export interface RelayGateInit {
  /** config relayServer: 'on' offers always; 'auto' only while publicly reachable */
  mode: 'on' | 'auto'
  limits: RelayServiceLimits
  /** connections the per-IP cap refused (the connection gater's PerIpLimit): counted as 'maxPerIp' */
  perIpRefused?: () => number
}

export interface RelayGateEvents {
  /** relay service offered (true) or withdrawn (false) */
  'relay:offering': CustomEvent<boolean>
  /** a hop request refused: the node's 'relay:refused' event */
  'relay:refused': CustomEvent<{ status: string, reason: string }>
}

export interface RelayGateStatus {
  offering: boolean
  reservationsServed: number
  refusals: Record<string, number>
}

export class RelayGateService extends TypedEventEmitter<RelayGateEvents> implements Startable {
  private readonly components: RelayGateComponents
  private readonly init: RelayGateInit
  private readonly log: Logger
  private gate?: RelayServiceGate
  private offered = false
  private readonly onChange = (): void => { void this.update() }

  constructor (components: RelayGateComponents, init: RelayGateInit) {
    super()
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('burrow:relay:gate')
  }

  readonly [Symbol.toStringTag] = 'burrow:relay-gate'
  readonly [serviceCapabilities]: string[] = ['@burrow/relay-gate']
  readonly [serviceDependencies]: string[] = ['@burrow/reachability']

  start (): void {}

  /** After libp2p started: the stock server registered its hop handler by then. */
  async afterStart (): Promise<void> {
    const c = this.components
    const relay = c.relay
    if (relay == null) {
      this.log.error('RELAY_GATE_IDLE: no circuit relay server service to gate; add the relay service next to relayGate')
      return
    }
    this.gate = new RelayServiceGate(
      { registrar: c.registrar, events: c.events, relay, log: c.logger.forComponent('burrow:relay:server'), connections: (peer) => c.connectionManager.getConnections(peer), onRefused: (status, reason) => { this.safeDispatchEvent('relay:refused', { detail: { status, reason } }) } },
      this.init.limits,
      () => this.init.mode === 'on' || c.reachability.current.reachability === 'public')
    await this.gate.start()
    c.reachability.addEventListener('reachability:changed', this.onChange)
    this.announce()
  }

  async stop (): Promise<void> {
    this.components.reachability.removeEventListener('reachability:changed', this.onChange)
    await this.gate?.stop().catch(() => {})
    this.gate = undefined
    this.announce()
  }

  /** Whether the hop protocol is offered right now. */
  get offering (): boolean {
    return this.gate?.offering === true
  }

  /** Requests refused since start, by the cap that refused them ('maxPerIp': connections the gater refused). */
  get refusals (): Map<string, number> {
    const out = new Map(this.gate?.refusals ?? [])
    if (this.init.perIpRefused != null) out.set('maxPerIp', this.init.perIpRefused())
    return out
  }

  get reservationsServed (): number {
    return this.gate?.reservationsServed ?? 0
  }

  status (): RelayGateStatus {
    return { offering: this.offering, reservationsServed: this.reservationsServed, refusals: Object.fromEntries(this.refusals) }
  }

  /** Offers or withdraws relay service to match the reachability now. */
  async update (): Promise<void> {
    try {
      await this.gate?.update()
    } catch (err) {
      this.log.error('could not switch relay service - %e', err)
    }
    this.announce()
  }

  private announce (): void {
    const now = this.offering
    if (now === this.offered) return
    this.offered = now
    this.safeDispatchEvent('relay:offering', { detail: now })
  }
}

export function relayGate (init: RelayGateInit): (components: RelayGateComponents) => RelayGateService {
  return (components) => new RelayGateService(components, init)
}
