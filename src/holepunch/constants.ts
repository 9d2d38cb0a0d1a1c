import { multicodec } from '@libp2p/dcutr'

/** The stock package's protocol id ('/libp2p/dcutr'). @see https://github.com/libp2p/specs/blob/master/relay/DCUtR.md */
export const DCUTR_PROTOCOL = multicodec

/** "Implementations SHOULD refuse encoded RPC messages larger than 4 KiB." (DCUtR.md) */
export const MAX_MESSAGE_BYTES = 4096

/**
 * "Inbound peers SHOULD retry twice (thus a total of 3 attempts)." (DCUtR.md) — go-libp2p
 * (`maxRetries = 3`) and rust-libp2p (`MAX_NUMBER_OF_UPGRADE_ATTEMPTS = 3`) alike. As the
 * answering side, burrow answers at most this many exchanges per peer per
 * RESPONDER_WINDOW_MS.
 */
export const MAX_ATTEMPTS = 3

/** One exchange (CONNECT → CONNECT → SYNC) must finish within this long (go: StreamTimeout 1 min; ours is tighter). */
export const EXCHANGE_TIMEOUT_MS = 10_000

/**
 * A simultaneous-open dial waits this long: the kernel resends a lost SYN after 1 s
 * and 3 s, so a SYN dropped by the other NAT before its own SYN opened it still lands
 * (go-libp2p's hole punch `dialTimeout` is 5 s too).
 */
export const PUNCH_DIAL_TIMEOUT_MS = 5_000

/** How long a new attempt waits for the punch it supersedes to let go of the dial port's 4-tuple. */
export const SUPERSEDE_WAIT_MS = 1_000

/** After the direct connection carried a ping, the relayed one is closed after this grace. */
export const RELAYED_CLOSE_GRACE_MS = 1_000

/** The window in which a peer gets at most MAX_ATTEMPTS answered exchanges. */
export const RESPONDER_WINDOW_MS = 10 * 60_000

/** Addresses we send per CONNECT (burrow's observed dial-port address first). */
export const MAX_ADDRESSES = 8

/**
 * Address entries read from a peer's CONNECT. go-libp2p sends all its addresses (QUIC,
 * WebTransport and WebRTC ones among them) and rust-libp2p up to 20, so the list is
 * filtered to what we can dial first, then cut to MAX_DIAL_ADDRESSES; a 4 KiB frame
 * holds at most a few hundred entries anyway.
 */
export const MAX_RECEIVED_ADDRESSES = 64

/** Addresses dialled per punch attempt: enough for an IPv4 and an IPv6 address and a spare each. */
export const MAX_DIAL_ADDRESSES = 4

/**
 * Punch rounds (one simultaneous dial to up to MAX_DIAL_ADDRESSES addresses) per minute,
 * all peers together. PeerIds are free, so a per-peer backoff alone does not bound how
 * many SYNs a crowd of fresh identities can make us send: 120 rounds (at most 480 SYNs, 8
 * a second) a minute. A node upgrading relayed connections as fast as peers arrive — 40
 * peers a minute, 3 attempts each — still fits (30 was too few: the interop lab's 20
 * peers in a minute ran out).
 */
export const PUNCH_ROUNDS_PER_MINUTE = 120

/** Peers whose answered exchanges are remembered (oldest forgotten first). */
export const MAX_TRACKED_PEERS = 1024


export const PING_PROTOCOL = '/ipfs/ping/1.0.0'
