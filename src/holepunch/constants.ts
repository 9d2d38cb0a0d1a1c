/** @see https://github.com/libp2p/specs/blob/master/relay/DCUtR.md */
export const DCUTR_PROTOCOL = '/libp2p/dcutr'

/** "Implementations SHOULD refuse encoded RPC messages larger than 4 KiB." (DCUtR.md) */
export const MAX_MESSAGE_BYTES = 4096

/** "Inbound peers SHOULD retry twice (thus a total of 3 attempts)." (DCUtR.md) */
export const MAX_ATTEMPTS = 3

/** One exchange (CONNECT → CONNECT → SYNC) must finish within this long. */
export const EXCHANGE_TIMEOUT_MS = 10_000

/**
 * A simultaneous-open dial waits this long: the kernel resends a lost SYN after 1 s
 * and 3 s, so a SYN dropped by the other NAT before its own SYN opened it still lands.
 */
export const PUNCH_DIAL_TIMEOUT_MS = 5_000

/** After the direct connection carried a ping, the relayed one is closed after this grace. */
export const RELAYED_CLOSE_GRACE_MS = 1_000

/** A peer whose upgrade failed is not tried again before this, so there is no busy retry loop. */
export const FAILED_PEER_BACKOFF_MS = 10 * 60_000

/** Addresses sent or tried per CONNECT. */
export const MAX_ADDRESSES = 8

/** Attempt records kept for `status`. */
export const MAX_RECORDS = 64

export const PING_PROTOCOL = '/ipfs/ping/1.0.0'
