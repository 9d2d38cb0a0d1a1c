/**
 * The node's typed event stream (DESIGN.md, "Events"): names are stable, payloads only
 * grow fields. The same records go to library listeners (`node.addEventListener('event')`
 * and the per-name events), to `GET /v1/events` as NDJSON and to the daemon's stdout.
 */

export type Path = 'direct' | 'relayed'

/** Payload of each event, by name. */
export interface BurrowEventPayloads {
  /** the reachability verdict changed (see `burrow status`) */
  'reachability:changed': { reachability: 'public' | 'private' | 'unknown', source: string, reason: string, mapping: 'endpoint-independent' | 'endpoint-dependent' | 'unknown', behindNat: boolean | null }
  /** a peer told us (identify) a public address of ours we had not seen */
  'address:observed': { address: string, by: string }
  /** a port mapping on the gateway: made, renewed, lost */
  'mapping:created': { protocol: string, transport: 'tcp' | 'udp', internal: string, external: string, expiresAt: string | null }
  'mapping:renewed': { protocol: string, transport: 'tcp' | 'udp', internal: string, external: string, expiresAt: string | null }
  'mapping:lost': { protocol: string, transport: 'tcp' | 'udp', external: string, reason: string }
  /** a relay reservation we hold: made, lost */
  'reservation:created': { relay: string, expiresAt: string | null, addresses: string[] }
  'reservation:lost': { relay: string }
  /** a connection to a peer opened or closed; `path` says whether it runs through a relay */
  'connection:opened': { peer: string, path: Path, remoteAddress: string, direction: 'inbound' | 'outbound' }
  'connection:closed': { peer: string, path: Path, remoteAddress: string }
  /** one hole punch attempt began (TCP: DCUtR exchange n; UDP: the WebRTC path) */
  'holepunch:started': { peer: string, transport: 'tcp' | 'udp', role: 'initiator' | 'responder', attempt: number }
  /** one attempt ended */
  'holepunch:attempt': { peer: string, transport: 'tcp' | 'udp', attempt: number, outcome: 'direct' | 'failed', detail: string, durationMs: number }
  /** the relayed connection was upgraded: a direct connection to the peer is open */
  'holepunch:direct': { peer: string, transport: 'tcp' | 'udp', remoteAddress: string, sinceRelayedMs: number }
  /** hole punching with the peer gave up for now: messages stay on the relay */
  'holepunch:failed': { peer: string, transport: 'tcp' | 'udp', reason: string }
  'message:received': { id: string, from: string, bytes: number, via: string }
  'message:delivered': { id: string, to: string }
  'message:failed': { id: string, to: string, reason: string }
  /** as a relay: a reservation or circuit refused, with the cap that refused it */
  'relay:refused': { status: string, reason: string }
}

export type BurrowEventType = keyof BurrowEventPayloads

/** One record of the stream: a number in this run's order, an ISO 8601 time, the name and its payload. */
export type BurrowEvent = {
  [K in BurrowEventType]: { seq: number, time: string, type: K, data: BurrowEventPayloads[K] }
}[BurrowEventType]

/** Every event name, for validation and docs. */
export const EVENT_TYPES: readonly BurrowEventType[] = [
  'reachability:changed', 'address:observed',
  'mapping:created', 'mapping:renewed', 'mapping:lost',
  'reservation:created', 'reservation:lost',
  'connection:opened', 'connection:closed',
  'holepunch:started', 'holepunch:attempt', 'holepunch:direct', 'holepunch:failed',
  'message:received', 'message:delivered', 'message:failed',
  'relay:refused'
]
