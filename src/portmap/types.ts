import type { AbortOptions } from '@libp2p/interface'

export type MappingProtocolName = 'upnp' | 'nat-pmp' | 'pcp'
export type PortMappingMode = 'auto' | MappingProtocolName | 'off'
export type TransportProtocol = 'tcp' | 'udp'

/** What one mapping request asks the gateway for. */
export interface MapRequest {
  protocol: TransportProtocol
  internalPort: number
  /** the external port we would like (the gateway may give another) */
  suggestedExternalPort: number
  lifetimeSeconds: number
}

/** What the gateway granted. */
export interface MapResult {
  protocol: TransportProtocol
  internalIp: string
  internalPort: number
  externalIp: string
  externalPort: number
  /** 0: permanent (UPnP routers that only do permanent leases) */
  lifetimeSeconds: number
}

/** The gateway's answer to a periodic check. */
export interface GatewayState {
  externalIp: string
  /** the gateway lost its mapping state since the last answer (PCP/NAT-PMP epoch went back, or the UPnP entry is gone) */
  lostState: boolean
}

/** One port-mapping protocol spoken to one gateway. One file per protocol implements it. */
export interface MappingClient {
  readonly protocol: MappingProtocolName
  /** the gateway's address as this client talks to it (IP, or the IGD's description URL) */
  readonly gateway: string
  /** Asks for (or renews) a mapping. */
  map (request: MapRequest, options?: AbortOptions): Promise<MapResult>
  /** Deletes a mapping made by map(). */
  unmap (mapping: MapResult, options?: AbortOptions): Promise<void>
  /** The external address and whether the gateway forgot our mappings (reboot); `mappings` are ours. */
  check (mappings: MapResult[], options?: AbortOptions): Promise<GatewayState>
}

/** A probe's verdict on one protocol: tri-state, as tailscale's netcheck reports it. */
export interface ProtocolProbe {
  protocol: MappingProtocolName
  /** 'yes' answered, 'no' silent (timeout), 'refused' answered with an error, 'unknown' not asked */
  answered: 'yes' | 'no' | 'refused' | 'unknown'
  externalIp?: string
  detail?: string
}
