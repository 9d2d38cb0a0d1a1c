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

/**
 * STUN servers asked on `amino` when `udp.stunServers` is not set: well-known public
 * servers run by large operators (kubo relays serve no STUN). Tests always pass the lab's.
 * @see https://developers.cloudflare.com/calls/turn/ (stun.cloudflare.com), Google's WebRTC samples (stun.l.google.com)
 */
export const AMINO_STUN_SERVERS = ['stun.cloudflare.com:3478', 'stun.l.google.com:19302', 'stun1.l.google.com:19302']

/** A Binding request is resent after 500 ms, then 1 s (RFC 8489 §6.2.1's Rc schedule, cut short). */
export const STUN_RESEND_MS = [500, 1000]

/** A STUN source that has not answered within this is counted as not answering. */
export const STUN_TIMEOUT_MS = 3_000

/** STUN sources asked at once; beyond, the first ones (configured first, then relays). */
export const MAX_STUN_SOURCES = 8

/** The UDP mapping is checked again this often (and when it was unknown, sooner: a minute). */
export const STUN_RECHECK_MS = 10 * 60_000
export const STUN_RECHECK_UNKNOWN_MS = 60_000

/** The punch coordinator's protocol, over the relayed connection (docs/DESIGN.md, UDX path) */
export const UDX_PUNCH_PROTOCOL = '/burrow/udx-punch/1.0.0'

/** A punch message is a small JSON object; anything longer is refused (a CONNECT is ~150 bytes). */
export const MAX_PUNCH_MESSAGE_BYTES = 512

/** CONNECT, CONNECT, SYNC must be done within this (three relayed one-way trips; a slow relay takes seconds). */
export const PUNCH_EXCHANGE_TIMEOUT_MS = 10_000

/** After SYNC, the direct handshake has this long (the handshake's own resend budget). */
export const PUNCH_DIRECT_TIMEOUT_MS = 10_000

/** Attempts one peer may start or ask for in PUNCH_PEER_WINDOW_MS: 3, as DCUtR's retries (libp2p/specs relay/DCUtR.md). */
export const MAX_ATTEMPTS_PER_PEER = 3
export const PUNCH_PEER_WINDOW_MS = 10 * 60_000

/** Attempts the node runs per minute over all peers, so many peers cannot multiply the per-peer cap. */
export const MAX_ATTEMPTS_PER_MINUTE = 30

/** Peers whose attempt counts are remembered (the least recently seen is forgotten first). */
export const MAX_TRACKED_PEERS = 1024

/** A peer may ask for keepalives no tighter than this (each one is a datagram each way). */
export const MIN_KEEPALIVE_MS = 5_000

/** Attempt records kept for `status`. */
export const MAX_ATTEMPT_RECORDS = 32
