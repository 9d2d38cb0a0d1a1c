/** The circuit relay v2 hop protocol (libp2p/specs relay/circuit-v2.md). */
export const RELAY_HOP_PROTOCOL = '/libp2p/circuit/relay/0.2.0/hop'

/** How often the client checks that its reservations still stand. */
export const RESERVATION_CHECK_INTERVAL_MS = 2_000

/** A relay that could not be reached is tried again after this long (doubling, capped). */
export const RELAY_RETRY_MIN_MS = 2_000
export const RELAY_RETRY_MAX_MS = 60_000

/** A reservation request gives up after this long. */
export const RESERVE_TIMEOUT_MS = 10_000
