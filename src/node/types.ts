import type { UdpStatus } from '../udx/index.js'
import type { InboxMessage, MessagingUsage, OutboxEntry } from '../messaging/index.js'
import type { HolePunchAttempt } from '../holepunch/index.js'
import type { UdpPunchAttempt } from '../udppunch/index.js'
import type { StunServerStatus } from '../stun/index.js'
import type { BurrowEvent } from '../events/index.js'

export type Reachability = 'public' | 'private' | 'unknown'

export interface ConnectionInfo {
  peerId: string
  remoteAddress: string
  /** false when the connection runs through a relay */
  direct: boolean
  direction: 'inbound' | 'outbound'
  openedAt: string
  rttMs: number | null
  /** for a relayed connection: why it is not direct (yet) */
  whyRelayed?: string
}

export interface PortMappingInfo {
  protocol: 'upnp' | 'nat-pmp' | 'pcp' | 'manual'
  internal: string
  external: string
  expiresAt: string | null
  /** a dial-back (AutoNAT v2) reached `external`, so it is announced; a manual forward is the user's word */
  confirmed: boolean
}

export interface ReservationInfo {
  relay: string
  /** when this node got the reservation (this project's addition) */
  reservedAt: string | null
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
  /** one line: why the node is (not) reachable */
  reachabilityReason: string
  nat: { mapping: 'endpoint-independent' | 'endpoint-dependent' | 'unknown', behindNat: boolean | null, publicAddresses: string[] }
  addresses: { listen: string[], announced: string[], observed: string[], relayed: string[] }
  portMappings: PortMappingInfo[]
  reservations: ReservationInfo[]
  connections: ConnectionInfo[]
  holePunch: { dialPort: number, attempts: HolePunchAttempt[] }
  /** the UDX path: its socket's port, public address and NAT UDP mapping (STUN on that socket), and its punch attempts */
  udp: UdpStatus
  /** the UDP punch path (WebRTC with our relays' STUN): whether on, its STUN servers, attempts; `stunServer` on a relay */
  udpPunch: { enabled: boolean, stunServers: string[], attempts: UdpPunchAttempt[], stunServer: StunServerStatus | null }
  /** when this (private) node last announced itself under its rendezvous key */
  rendezvous: { providedAt: string | null }
  /** bootstrap peers in the list, and how many of them we have connected to since start */
  bootstrap: { peers: number, answered: number }
  dht: { protocol: string, mode: 'client' | 'server', routingTable: number }
  /** the outbox; the inbox against its quotas; bytes held for unfinished inbound frames against their budget */
  messages: { outboxPending: number, outboxFailed: number } & MessagingUsage
}

export interface FindResult {
  peerId: string
  addresses: string[]
  /** where the answer came from: FIND_NODE, or the rendezvous record of a private peer */
  source: 'dht' | 'rendezvous'
  /** the DHT server whose answer held the peer's addresses */
  answeredBy: string
  durationMs: number
}

export interface DialResult {
  peerId: string
  remoteAddress: string
  direct: boolean
  /**
   * the direct dial beside the relay when the result returned: `none` (no own address to try,
   * or a connection was open already), `pending` (it goes on in the background), `connected`, `failed`
   */
  directAttempt: 'none' | 'pending' | 'connected' | 'failed'
  durationMs: number
}

export interface PingReply {
  seq: number
  rttMs: number
  path: 'direct' | 'relayed'
  remoteAddress: string
  /** for a relayed reply: the relay's PeerId */
  via?: string
  /** the path differs from the previous reply's (e.g. relayed, then direct after a hole punch) */
  changed: boolean
}

export interface BurrowNodeEvents {
  /** every event of the stream (DESIGN.md, "Events"): `detail.type` names it, `detail.data` is its typed payload */
  'event': CustomEvent<BurrowEvent>
  'message': CustomEvent<InboxMessage>
  'message:delivered': CustomEvent<{ id: string, to: string }>
  'message:failed': CustomEvent<OutboxEntry>
  'peer:connect': CustomEvent<string>
  'peer:disconnect': CustomEvent<string>
}

export interface DialStage {
  stage: 'lookup' | 'found' | 'relayed' | 'punch-attempt' | 'udx-attempt' | 'direct' | 'no-direct'
  elapsedMs: number
  detail: string
  attempt?: number
  rttMs?: number
  /** `udx-attempt` (issue 15): the UDX punch's method, outcome, birthday probes sent (the hit came after this many), probe sockets, and its time */
  method?: string
  outcome?: string
  probes?: number
  sockets?: number
  ms?: number
}
