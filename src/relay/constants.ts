/** The circuit relay v2 hop protocol (libp2p/specs relay/circuit-v2.md). */
export const RELAY_HOP_PROTOCOL = '/libp2p/circuit/relay/0.2.0/hop'

/** How often the client checks that its reservations still stand. */
export const RESERVATION_CHECK_INTERVAL_MS = 2_000

/** A relay that could not be reached is tried again after this long (doubling, capped). */
export const RELAY_RETRY_MIN_MS = 2_000
export const RELAY_RETRY_MAX_MS = 60_000

/** A reservation request gives up after this long. */
export const RESERVE_TIMEOUT_MS = 10_000

/** A hop request and its answer must be exchanged within this (the stock server's DEFAULT_HOP_TIMEOUT). */
export const HOP_TIMEOUT_MS = 30_000

/**
 * Hop streams one connection may open beyond its peer's circuit cap: one reservation
 * refresh, and one request that gets RESOURCE_LIMIT_EXCEEDED instead of a stream reset.
 */
export const HOP_STREAMS_ABOVE_CIRCUITS = 2

/**
 * Reservations kept for holders that left, so one that returns before the expiry gets
 * its own back (each ~1 KB with its expiry timer: ~4 MB); the oldest goes first.
 */
export const MAX_LEFT_RESERVATIONS_KEPT = 4096

/**
 * Addresses (IPv4, IPv6 /64) whose hourly reservation budget is remembered (~100 B
 * each); beyond it, refilled budgets are forgotten first, then the oldest.
 */
export const MAX_BUDGETED_ADDRESSES = 16_384
