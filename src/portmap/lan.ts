/**
 * LAN-only mode: nothing is mapped, only LAN addresses are announced, and peers on the LAN
 * are found by mDNS (@libp2p/mdns) and dialed.
 */
import { classifyIPv4 } from './addresses.js'
import { isCircuitAddress } from '../connections/index.js'
import type { PeerInfo, Startable, TypedEventTarget, Libp2pEvents, Logger, ComponentLogger } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'


/** Keeps the addresses a LAN peer can dial: private, loopback and link-local IPs (no public, no relayed). */
export function lanAddressFilter (addrs: Multiaddr[]): Multiaddr[] {
  return addrs.filter(ma => {
    const c = ma.getComponents()
    if (isCircuitAddress(ma)) return false
    const ip4 = c.find(x => x.name === 'ip4')?.value
    if (ip4 != null) return classifyIPv4(ip4) !== 'public'
    const ip6 = c.find(x => x.name === 'ip6')?.value?.toLowerCase()
    return ip6 != null && (ip6 === '::1' || ip6.startsWith('fe80') || ip6.startsWith('fc') || ip6.startsWith('fd'))
  })
}

export interface LanDiscoveryComponents {
  events: TypedEventTarget<Libp2pEvents>
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

/** Dials every peer mDNS discovers (libp2p leaves dialing discovered peers to the application). */
export class LanDiscovery implements Startable {
  private readonly components: LanDiscoveryComponents
  private started = false
  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
    const peer = evt.detail
    const lan = lanAddressFilter(peer.multiaddrs)
    if (lan.length === 0) return
    this.log('found %p on the LAN: dialing', peer.id)
    void this.components.connectionManager.openConnection(peer.id).catch((err: Error) => { this.log('dial %p failed - %e', peer.id, err) })
  }

  private readonly log: Logger

  constructor (components: LanDiscoveryComponents) {
    this.log = components.logger.forComponent('burrow:portmap:lan')
    this.components = components
  }

  readonly [Symbol.toStringTag] = 'burrow:lan-discovery'

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.components.events.addEventListener('peer:discovery', this.onDiscovery)
  }

  async stop (): Promise<void> {
    this.started = false
    this.components.events.removeEventListener('peer:discovery', this.onDiscovery)
  }
}

export function lanDiscovery (): (components: LanDiscoveryComponents) => LanDiscovery {
  return (components) => new LanDiscovery(components)
}
