/**
 * The upgrade state machine as a libp2p service: it watches connections open and close
 * and drives one UpgradeMachine for the node. Services that can make a relayed
 * connection direct register an UpgradeStrategy with it at start
 * (`components.pathUpgrade.addStrategy(…)`, declaring '@burrow/path-upgrade' as a
 * dependency): the UDP path does, and so can a UDX transport.
 */
import { serviceCapabilities } from '@libp2p/interface'
import { RELAYED_CLOSED, UpgradeMachine } from './upgrade.js'
import { isRelayed } from './path.js'
import type { UpgradeAttempt, UpgradeStrategy, UpgradeStrategyName, PeerUpgrade, UpgradeEvents } from './upgrade.js'
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, Startable, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

export interface PathUpgradeComponents {
  events: TypedEventTarget<Libp2pEvents>
  connectionManager: Pick<ConnectionManager, 'getConnections'>
  logger: ComponentLogger
}

export interface PathUpgradeInit {
  /** what whyRelayed says when no strategy registered (every punch method is off) */
  offReason?: string
  /** after every strategy failed, the peer is not tried again before this */
  backoffMs?: number
}

export interface PathUpgradeStatus {
  strategies: UpgradeStrategyName[]
  peers: PeerUpgrade[]
  attempts: UpgradeAttempt[]
}

export class PathUpgradeService implements Startable {
  /** the one per-peer state: strategies, in-progress upgrades, backoff, attempt log */
  readonly machine: UpgradeMachine
  private readonly components: PathUpgradeComponents
  private readonly log: Logger
  private started = false
  private readonly onOpen = (evt: CustomEvent<Connection>): void => { this.opened(evt.detail) }
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => { this.machine.peerDisconnected(evt.detail.toString()) }
  private readonly onClose = (evt: CustomEvent<Connection>): void => { this.closed(evt.detail) }

  constructor (components: PathUpgradeComponents, init: PathUpgradeInit = {}) {
    this.components = components
    this.log = components.logger.forComponent('burrow:connections:upgrade')
    this.machine = new UpgradeMachine({ strategies: [], ...init })
  }

  readonly [Symbol.toStringTag] = 'burrow:path-upgrade'
  readonly [serviceCapabilities]: string[] = ['@burrow/path-upgrade']

  start (): void {
    if (this.started) return
    this.components.events.addEventListener('connection:open', this.onOpen)
    this.components.events.addEventListener('peer:disconnect', this.onDisconnect)
    this.components.events.addEventListener('connection:close', this.onClose)
    this.started = true
  }

  stop (): void {
    this.components.events.removeEventListener('connection:open', this.onOpen)
    this.components.events.removeEventListener('peer:disconnect', this.onDisconnect)
    this.components.events.removeEventListener('connection:close', this.onClose)
    this.machine.stop()
    this.started = false
  }

  /** Registers a way to make relayed connections direct (once per name). */
  addStrategy (strategy: UpgradeStrategy): void {
    this.machine.addStrategy(strategy)
  }

  addEventListener<K extends keyof UpgradeEvents>(type: K, listener: (evt: UpgradeEvents[K]) => void): void {
    this.machine.addEventListener(type, listener)
  }

  removeEventListener<K extends keyof UpgradeEvents>(type: K, listener: (evt: UpgradeEvents[K]) => void): void {
    this.machine.removeEventListener(type, listener)
  }

  whyRelayed (peer: string): string | undefined {
    return this.machine.whyRelayed(peer)
  }

  status (): PathUpgradeStatus {
    return this.machine.status()
  }

  /**
   * A relayed connection closed while the peer keeps another one and no direct one (two
   * peers that dialled each other at once keep one; the attempts may have run over the
   * other, or been taken over by the peer's attempt over it): upgrade the one kept. An
   * upgrade under way is joined, a backed-off strategy stays off.
   */
  private closed (conn: Connection): void {
    if (!this.started || !isRelayed(conn) || this.machine.strategyNames.length === 0) return
    const open = this.components.connectionManager.getConnections(conn.remotePeer).filter(c => c !== conn && c.status === 'open')
    if (open.some(c => !isRelayed(c))) return
    const kept = open.find(c => isRelayed(c))
    if (kept === undefined) return
    this.log('a relayed connection to %p closed; upgrading the one kept (%a)', conn.remotePeer, kept.remoteAddr)
    this.opened(kept)
  }

  private opened (conn: Connection): void {
    const peer = conn.remotePeer.toString()
    if (!isRelayed(conn)) {
      this.machine.directConnected(peer)
      return
    }
    if (this.machine.strategyNames.length === 0) return
    if (this.components.connectionManager.getConnections(conn.remotePeer).some(c => c.status === 'open' && !isRelayed(c))) return
    void this.machine.upgrade(conn).then(r => {
      if (r.outcome === 'aborted' && r.reason === RELAYED_CLOSED && this.started) {
        // the connection manager dropped the relayed connection the punch ran over (a
        // duplicate of one the peer opened at the same moment): go on over the one kept
        const other = this.components.connectionManager.getConnections(conn.remotePeer).find(c => c !== conn && c.status === 'open' && isRelayed(c))
        if (other !== undefined) {
          this.log('the relayed connection to %s closed during the upgrade; again over %a', peer, other.remoteAddr)
          this.opened(other)
          return
        }
      }
      if (r.outcome !== 'direct' && r.outcome !== 'not-applicable') this.log('no direct connection to %s: %s (%s)', peer, r.reason, r.outcome)
    }, err => { this.log.error('upgrade of %s failed - %e', peer, err) })
  }
}

export function pathUpgrade (init: PathUpgradeInit = {}): (components: PathUpgradeComponents) => PathUpgradeService {
  return (components) => new PathUpgradeService(components, init)
}
