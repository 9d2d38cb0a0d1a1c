/**
 * The connection-path module: what relayed / direct / limited mean (path.ts, the one
 * definition) and the per-peer upgrade from a relayed to a direct connection
 * (upgrade.ts: one state, one backoff and one attempt log per peer; the TCP punch and
 * the UDP path plug in as strategies).
 */
export * from './path.js'
export * from './upgrade.js'
export * from './service.js'
export * from './multistream.js'
export * from './lazy-relay.js'
