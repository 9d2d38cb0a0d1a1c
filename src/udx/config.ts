/**
 * From burrow's config to the UDX path's listen address and STUN sources.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { stunServersFor } from '../stun/index.js'
import { AMINO_STUN_SERVERS, UDX_PROTOCOL_NAME } from './constants.js'

/**
 * One UDX listen address: the host of the first IPv4 TCP listen address, at `udpPort`, or
 * (0) at that TCP port's number, so one port forward covers both. None without IPv4 TCP.
 */
export function udxListenAddresses (listen: string[], udpPort: number): string[] {
  for (const l of listen) {
    try {
      const c = multiaddr(l).getComponents()
      if (c[0]?.name === 'ip4' && c[1]?.name === 'tcp' && c[0].value != null) {
        return [`/ip4/${c[0].value}/udp/${udpPort > 0 ? udpPort : Number(c[1].value ?? 0)}/${UDX_PROTOCOL_NAME}`]
      }
    } catch {}
  }
  return []
}

export interface UdxStunConfig {
  network: string
  bootstrap: string[] | null
  stunPort: number
  udp: { stunServers: string[] | null }
}

/** The second port a burrow relay's STUN server answers on: stunPort + 1 (none past 65535). */
export function stunAlternatePort (stunPort: number): number | undefined {
  return stunPort > 0 && stunPort < 65535 ? stunPort + 1 : undefined
}

/**
 * Where the UDX socket asks for its public address (HOST:PORT, deduplicated, in order):
 * 1. `udp.stunServers`; when null, on amino (with its own bootstrap list) the documented
 *    public list (AMINO_STUN_SERVERS), elsewhere none;
 * 2. burrow relays at `stunPort` and `stunPort + 1`: the bootstrap peers and the relays we
 *    hold reservations on, except on amino's own list (kubo nodes serve no STUN).
 */
export function udxStunSources (config: UdxStunConfig, bootstrapList: string[], reservationAddrs: string[] = []): string[] {
  const aminoDefault = config.network === 'amino' && config.bootstrap == null
  const configured = config.udp.stunServers ?? (aminoDefault ? AMINO_STUN_SERVERS : [])
  const relayHosts = config.stunPort > 0 && !aminoDefault
    ? stunServersFor([...bootstrapList, ...reservationAddrs], config.stunPort).map(u => u.replace(/^stun:/, ''))
    : []
  // each burrow relay answers at stunPort and stunPort + 1 (src/stun alternatePort): with one
  // relay, two ports still show a NAT that gives each destination a new public port
  const alt = stunAlternatePort(config.stunPort)
  const relays = relayHosts.flatMap(hp => alt == null ? [hp] : [hp, `${hp.slice(0, hp.lastIndexOf(':'))}:${alt}`])
  return [...new Set([...configured, ...relays])]
}
