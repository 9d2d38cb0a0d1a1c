/**
 * Circuit relay v2: the server public nodes offer (with limits), and the client that
 * keeps reservations on two relays while the node is private.
 */
export { relayServer, RelayServiceGate } from './server.js'
export { RelayClient, relayClient } from './client.js'
export type { RelayClientInit, ReservationState } from './client.js'
export { PerIpLimit } from './per-ip.js'
export { ipKey, ReservationLedger, Tally } from './fairness.js'
export type { ExpiringReservation } from './fairness.js'
export { RELAY_HOP_PROTOCOL } from './constants.js'
export { RelayGateService, relayGate } from './gate-service.js'
export type { RelayGateComponents, RelayGateInit, RelayGateEvents, RelayGateStatus } from './gate-service.js'
export type { RelayServiceLimits } from './server.js'
