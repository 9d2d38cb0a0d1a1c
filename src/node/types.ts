import type { InboxMessage, OutboxEntry } from '../messaging/index.js'

export type Reachability = 'public' | 'private' | 'unknown'

export interface ConnectionInfo {
  peerId: string
  remoteAddress: string
  /** false when the connection runs through a relay */
  direct: boolean
  direction: 'inbound' | 'outbound'
  openedAt: string
  rttMs: number | null
}

export interface PortMappingInfo {
  protocol: 'upnp' | 'nat-pmp' | 'pcp' | 'manual'
  internal: string
  external: string
  expiresAt: string | null
}

export interface ReservationInfo {
  relay: string
  expiresAt: string | null
  addresses: string[]
}

/** `burrow status --json`: stable field names (DESIGN.md); fields are added, never renamed. */
export interface NodeStatus {
  peerId: string
  network: string
  version: string
  startedAt: string
  reachability: Reachability
  reachabilitySource: string
  nat: { mapping: 'endpoint-independent' | 'endpoint-dependent' | 'unknown', publicAddresses: string[] }
  addresses: { listen: string[], announced: string[], observed: string[], relayed: string[] }
  portMappings: PortMappingInfo[]
  reservations: ReservationInfo[]
  connections: ConnectionInfo[]
  dht: { protocol: string, mode: 'client' | 'server', routingTable: number }
  messages: { outboxPending: number, outboxFailed: number }
}

export interface FindResult {
  peerId: string
  addresses: string[]
  /** where the answer came from */
  source: 'dht'
  /** the DHT server whose answer held the peer's addresses */
  answeredBy: string
  durationMs: number
}

export interface DialResult {
  peerId: string
  remoteAddress: string
  direct: boolean
  durationMs: number
}

export interface PingReply {
  seq: number
  rttMs: number
  path: 'direct' | 'relayed'
  remoteAddress: string
}

export interface BurrowNodeEvents {
  'message': CustomEvent<InboxMessage>
  'message:delivered': CustomEvent<{ id: string, to: string }>
  'message:failed': CustomEvent<OutboxEntry>
  'peer:connect': CustomEvent<string>
  'peer:disconnect': CustomEvent<string>
}
