/**
 * `burrow nat`: what the NAT does, what the router answered, and one line of advice.
 */
import { externalMultiaddr } from './addresses.js'
import type { PortMapper, PortMapperReport } from './port-mapper.js'
import type { ProtocolProbe } from './types.js'
import type { MappingBehaviour } from '../nat/index.js'

export interface NatReport {
  /** how the NAT maps one inside port towards different peers (the one verdict: ObservedAddresses.mapping in src/nat) */
  mapping: MappingBehaviour
  mappingSource: string
  reachability: string
  reachabilitySource: string
  portMapping: {
    mode: string
    status: string
    gateway: string | null
    active: string | null
    lastError: string | null
  }
  /** which port-mapping protocols the gateway answered */
  protocols: ProtocolProbe[]
  externalIp: string | null
  doubleNat: boolean
  /**
   * `confirmed`: a dial-back reached the external address (a manual forward: the user's word);
   * `announced`: the address is announced, which a mapping is only once confirmed
   */
  mappings: Array<{ protocol: string, internal: string, external: string, expiresAt: string | null, confirmed: boolean, announced: boolean }>
  announced: string[]
  observed: string[]
  /** ms from start to the first mapping and to its address being announced */
  timings: { mappedAfterMs: number | null, announcedAfterMs: number | null }
  advice: string
}

/** One line saying what to do (or that nothing needs doing). */
export function natAdvice (pm: PortMapperReport, reachability: string): string {
  const answered = pm.protocols.filter(p => p.answered === 'yes').map(p => p.protocol)
  const refused = pm.protocols.filter(p => p.answered === 'refused')
  const announced = pm.mappings.find(m => m.announced)
  switch (pm.status) {
    case 'lan-only':
      return 'LAN-only mode: nothing is mapped; peers on this LAN find this node by mDNS'
    case 'manual':
      return `manual forward: peers dial ${pm.manual.map(m => m.external).join(', ')}; the router must forward it to ${pm.manual[0]?.internal ?? 'this host'}`
    case 'off':
      return 'port mapping is off: peers reach this node through relays (and hole punching), or forward a port by hand and use --announce'
    case 'not-needed':
      return 'this host has a public address: no port mapping needed'
    case 'starting':
    case 'discovering':
      return 'still asking the router for a port mapping; run `burrow nat` again in a few seconds'
    case 'double-nat': {
      const advice = 'ask the ISP for a public IPv4 address, or rely on relays and hole punching'
      const mapped = pm.mappings[0]
      if (pm.externalIp != null && pm.externalIp !== '' && pm.externalIpKind !== 'public') {
        return `double NAT: the router's external address ${pm.externalIp} is ${pm.externalIpKind ?? 'not public'}, so ${mapped != null ? `its mapping of port ${mapped.externalPort}` : 'a mapping on it'} cannot be reached from the internet; ${advice}`
      }
      return mapped != null
        ? `double NAT: the router mapped port ${mapped.externalPort} but reports no external address of its own (another NAT is upstream), so the mapping cannot be reached from the internet; ${advice}`
        : `double NAT: the router has no public address of its own (another NAT is upstream); ${advice}`
    }
    case 'mapped': {
      if (announced != null) return `publicly reachable through a ${announced.protocol} mapping: /ip4/${announced.externalIp}/tcp/${announced.externalPort}`
      const waiting = pm.mappings.find(m => m.offered)
      return waiting != null
        ? `mapped at /ip4/${waiting.externalIp}/tcp/${waiting.externalPort} (the router's word), unconfirmed: announced once a peer's dial-back reaches it; meanwhile this node is reachable through relays`
        : 'mapped, but the address is not announced yet'
    }
    case 'refused': {
      const networkFailure = refused.find(p => /network failure|no external address/i.test(p.detail ?? ''))
      if (networkFailure != null) return `the router speaks ${networkFailure.protocol} but has no public address of its own (double NAT?): rely on relays, or ask the ISP for a public IPv4 address`
      const who = refused.map(p => p.protocol).join(' and ') || answered.join(' and ') || 'a mapping protocol'
      return `the router speaks ${who} but refused the mapping: check its settings (port mapping allowed for this host and port)`
    }
    case 'no-protocol':
      return `no mapping protocol answered (UPnP, NAT-PMP, PCP): enable one on the router, or forward a port by hand and use --announce; meanwhile this node is ${reachability === 'public' ? 'reachable' : 'reachable through relays'}`
    default:
      return pm.lastError != null ? `port mapping failed: ${pm.lastError}` : 'port mapping failed'
  }
}

/** What the node knows that the port mapper does not (from `status`). */
export interface NodeView {
  reachability: string
  reachabilitySource: string
  nat: { mapping: MappingBehaviour }
  addresses: { announced: string[], observed: string[] }
}

/** The whole `burrow nat` report from the port mapper and the node's status. */
export function buildNatReport (portMapper: PortMapper, node: NodeView): NatReport {
  const pm = portMapper.report()
  return {
    mapping: node.nat.mapping,
    mappingSource: node.nat.mapping === 'unknown' ? 'fewer than two observer IPs saw our dial port' : 'addresses observed by peers',
    reachability: node.reachability,
    reachabilitySource: node.reachabilitySource,
    portMapping: { mode: pm.mode, status: pm.status, gateway: pm.gateway, active: pm.active, lastError: pm.lastError },
    protocols: pm.protocols,
    externalIp: pm.externalIp,
    doubleNat: pm.doubleNat,
    mappings: [
      ...pm.manual.map(m => ({ protocol: 'manual', internal: m.internal, external: m.external, expiresAt: null, confirmed: true, announced: true })),
      ...pm.mappings.map(m => ({
        protocol: m.protocol,
        internal: `/ip4/${m.internalIp}/${m.transport}/${m.internalPort}`,
        external: externalMultiaddr(m),
        expiresAt: m.expiresAt != null ? new Date(m.expiresAt).toISOString() : null,
        confirmed: m.announced,
        announced: m.announced
      }))
    ],
    announced: node.addresses.announced,
    observed: node.addresses.observed,
    timings: pm.timings,
    advice: natAdvice(pm, node.reachability)
  }
}
