/**
 * The STUN server's lifecycle as a libp2p service: a node that offers relay service also
 * serves STUN (UDP 3478), so peers holding reservations on it learn their public UDP
 * address without a public STUN host. It follows the relay gate's 'relay:offering'
 * ('auto': only while publicly reachable).
 */
import { serviceDependencies } from '@libp2p/interface'
import { StunServer } from './server.js'
import type { StunServerInit, StunServerStatus } from './server.js'
import type { ComponentLogger, Logger, Startable, TypedEventTarget } from '@libp2p/interface'

/** What the STUN service follows: whether relay service is offered, and its change event. */
export interface RelayOffering extends TypedEventTarget<{ 'relay:offering': CustomEvent<boolean> }> {
  readonly offering: boolean
}

export interface StunServiceComponents {
  /** without a relay gate, no relay service is offered: no STUN server either */
  relayGate?: RelayOffering
  logger: ComponentLogger
}

export class StunService implements Startable {
  private readonly components: StunServiceComponents
  private readonly init: StunServerInit
  private readonly log: Logger
  private server?: StunServer
  /** the switch under way: starts and stops run one after another */
  private switching: Promise<void> = Promise.resolve()
  private readonly onOffering = (): void => { void this.follow() }

  constructor (components: StunServiceComponents, init: StunServerInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('burrow:stun:service')
  }

  readonly [Symbol.toStringTag] = 'burrow:stun'
  readonly [serviceDependencies]: string[] = ['@burrow/relay-gate']

  start (): void {
    this.components.relayGate?.addEventListener('relay:offering', this.onOffering)
  }

  async afterStart (): Promise<void> {
    await this.follow()
  }

  async stop (): Promise<void> {
    this.components.relayGate?.removeEventListener('relay:offering', this.onOffering)
    await this.switching
    const server = this.server
    this.server = undefined
    await server?.stop()
  }

  status (): StunServerStatus | null {
    return this.server?.status() ?? null
  }

  /** Starts or stops the server to match the relay service (one switch at a time). */
  async follow (): Promise<void> {
    this.switching = this.switching.then(async () => {
      const want = this.components.relayGate?.offering === true
      if (want && this.server == null) {
        const server = new StunServer({ ...this.init, log: this.components.logger.forComponent('burrow:stun') })
        this.server = server
        // kept on failure: status() tells why no socket was bound
        await server.start().catch(err => { this.log.error('no STUN server - %e', err) })
      } else if (!want && this.server != null) {
        const server = this.server
        this.server = undefined
        await server.stop()
      }
    }).catch(err => { this.log.error('could not switch the STUN server - %e', err) })
    await this.switching
  }
}

export function stunService (init: StunServerInit): (components: StunServiceComponents) => StunService {
  return (components) => new StunService(components, init)
}
