/**
 * Every default of the UDX path, each with why it is what it is.
 */

/** multiaddr protocol name of a UDX endpoint: `/ip4/A/udp/P/x-burrow-udx` (docs/DESIGN.md, UDX path) */
export const UDX_PROTOCOL_NAME = 'x-burrow-udx'

/**
 * Its multicodec code, from the private-use range 0x300000–0x3fffff of the multicodec
 * table (never assigned upstream, so no other implementation reads it as something else).
 * @see https://github.com/multiformats/multicodec/blob/master/table.csv
 */
export const UDX_PROTOCOL_CODE = 0x3b0d01

/** The 4 ASCII bytes that start a stream handshake datagram (docs/DESIGN.md, seam with birthday probing) */
export const HANDSHAKE_MAGIC = 'BRWH'

/** The 4 ASCII bytes that start a punch probe datagram (src/udx/birthday.ts) */
export const PROBE_MAGIC = 'BRWP'

/** First resend of an unanswered HELLO: about one RTT of a slow home link. */
export const HANDSHAKE_FIRST_RESEND_MS = 200

/** Resends back off by doubling up to this (UDP loss is mostly bursts; 1.6 s keeps a lost burst short). */
export const HANDSHAKE_MAX_RESEND_MS = 1600

/** A dial's handshake gives up after this (libp2p's dial timeout is longer; 10 s covers ~10 lost HELLOs at backoff). */
export const HANDSHAKE_TIMEOUT_MS = 10_000

/**
 * Inbound handshakes not yet carrying data, from one source IP: 8, as the relay's
 * reservations per IP (a household or a small CGNAT share dials at once), so one host
 * cannot fill the table.
 */
export const MAX_PENDING_PER_IP = 8

/** Inbound handshakes not yet carrying data, in total: 64, libp2p's default of inbound upgrades in flight. */
export const MAX_PENDING_TOTAL = 64

/** A pending inbound handshake that never carries data is dropped after this (an upgrade times out earlier). */
export const PENDING_TTL_MS = 30_000

/** Keepalive on a direct UDX connection: real routers drop idle UDP mappings after 30 s (issue 15). */
export const DEFAULT_UDX_KEEPALIVE_MS = 25_000
