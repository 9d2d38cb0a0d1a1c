/**
 * Every patch of a dependency's behaviour, in one place: each names the upstream issue,
 * the version range it was written for, and has a check that fails loudly
 * (`UPSTREAM_CHANGED: patch … written for … finds no … in VERSION; …`) when the shape it
 * patches is gone. `checkUpstream` runs them at start (docs/DESIGN.md, "Upstream patches").
 */
export { checkUpstream, UPSTREAM_PATCHES } from './check.js'
export type { UpstreamNeeds, UpstreamSubjects } from './check.js'
export type { UpstreamPatch } from './patch.js'
export { UpstreamChangedError } from './errors.js'
export { installedVersion, inRange } from './versions.js'
export { RELAY_LIMIT_CODEC, checkRelayLimitCodec, patchRelayLimitCodec } from './relay-limit-codec.js'
export { RELAY_HOP_HANDLER, checkRelayHopPb, checkRelayHopServer, loadStockHop } from './relay-hop.js'
export type { HopRequest, HopCodec, StockHopPb, StockHopServer } from './relay-hop.js'
export { RELAY_RESERVATION_STORE, RELAY_TRANSPORT_TAG, checkReservationStore, findReservationStore } from './relay-reservation-store.js'
export type { StockReservationStore } from './relay-reservation-store.js'
export { MUXER_ROLE, checkMuxerRole, asResponder } from './muxer-role.js'
export { AUTONAT_V2_CLIENT, checkAutoNatV2Client } from './autonat-v2-client.js'
export type { AutoNatClientInternals } from './autonat-v2-client.js'
export { AUTONAT_V1_SERVER, checkAutoNatV1Server } from './autonat-v1-server.js'
export type { StockAutoNatV1Server } from './autonat-v1-server.js'
export { KAD_DHT_INBOUND, checkKadDhtRpc, detachable, patchKadDhtInbound } from './kad-dht-inbound.js'
export { CONNECTION_CHOICE, checkConnectionManager, patchConnectionChoice } from './connection-choice.js'
export type { ChoosingConnectionManager } from './connection-choice.js'
