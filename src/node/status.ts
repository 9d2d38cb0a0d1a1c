/**
 * `burrow status`, assembled from each service's own `status()` slice in one pure
 * function: no service is reached into here, and nothing here talks to the network.
 */
import { isCircuitAddress } from '../connections/index.js'
import type { ConnectionInfo, NodeStatus, PortMappingInfo, ReservationInfo } from './types.js'
import type { ReachabilityStatus } from '../nat/index.js'
import type { DhtStatus, KnownPeersStatus, RendezvousStatus } from '../swarm/index.js'
import type { HolePunchAttempt } from '../holepunch/index.js'
import type { UdpPunchAttempt } from '../udppunch/index.js'
import type { StunServerStatus } from '../stun/index.js'
import type { UdpStatus } from '../udx/index.js'
import type { MessagingUsage, OutboxEntry } from '../messaging/index.js'

/** Each service's slice, as its `status()` gives it. */
export interface StatusParts {
  node: { peerId: string, network: string, version: string, startedAt: string }
  reachability: ReachabilityStatus
  portMapper: { reachability: { reachability: 'public', reachabilitySource: string } | undefined, mappings: PortMappingInfo[] }
  /** the transport manager's listen addresses and the address manager's announced ones (circuit addresses among them) */
  addresses: { listen: string[], announced: string[] }
  reservations: ReservationInfo[]
  holePunch: { dialPort: number, attempts: HolePunchAttempt[] }
  /** the UDX path's slice: its socket's NAT mapping (STUN) and its punch attempts */
  udp: UdpStatus
  udpPunch: { enabled: boolean, stunServers: string[], attempts: UdpPunchAttempt[] }
  /** the STUN service's server (null: not serving, or no STUN service on this node) */
  stun: StunServerStatus | null
  rendezvous: RendezvousStatus
  knownPeers: KnownPeersStatus
  connections: ConnectionInfo[]
  dht: DhtStatus
  messages: { outbox: Array<Pick<OutboxEntry, 'state'>>, usage: MessagingUsage }
}

/** What a relayed connection's `whyRelayed` is told from: the path module's and the UDX punch's slices for one peer. */
export interface WhyRelayedParts {
  /** config `holePunch` */
  holePunch: boolean
  /** strategies registered with the path module */
  strategies: number
  /** the path module's last failure per strategy for the peer */
  failures: string[]
  /** the UDX punch's verdict for the peer as the answering side (e.g. both NATs endpoint-dependent) */
  udx?: string
}

/** Why a relayed connection has not become direct, in one line. */
export function whyRelayedOf (p: WhyRelayedParts): string {
  if (!p.holePunch && p.strategies === 0) return 'hole punching is off (holePunch: false, udx: false, udpPunch: false)'
  const failures = [...p.failures]
  const udx = p.udx
  if (udx != null && !failures.some(f => udx.endsWith(f))) failures.push(udx)
  if (failures.length > 0) return failures.join('; ')
  return 'hole punch in progress or not started yet (the peer that received the relayed connection starts it)'
}

/**
 * The node's status from its services' slices. A port mapping (or --announce) decides
 * reachability over the dial-back verdict: it is the stronger evidence.
 */
export function assembleStatus (p: StatusParts): NodeStatus {
  const mapped = p.portMapper.reachability
  return {
    ...p.node,
    ...(mapped ?? { reachability: p.reachability.reachability, reachabilitySource: p.reachability.source }),
    reachabilityReason: mapped != null ? 'reachable through a mapped or forwarded port' : p.reachability.reason,
    nat: p.reachability.nat,
    addresses: {
      listen: p.addresses.listen,
      announced: p.addresses.announced.filter(a => !isCircuitAddress(a)),
      observed: p.reachability.observed,
      relayed: p.addresses.announced.filter(a => isCircuitAddress(a))
    },
    portMappings: p.portMapper.mappings,
    reservations: p.reservations,
    holePunch: p.holePunch,
    udp: p.udp,
    udpPunch: { ...p.udpPunch, stunServer: p.stun },
    rendezvous: p.rendezvous,
    bootstrap: p.knownPeers.bootstrap,
    connections: p.connections,
    dht: p.dht,
    messages: {
      outboxPending: p.messages.outbox.filter(e => e.state === 'pending').length,
      outboxFailed: p.messages.outbox.filter(e => e.state === 'failed').length,
      ...p.messages.usage
    }
  }
}
