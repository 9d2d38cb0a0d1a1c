/** The DHT protocol of the public libp2p/IPFS network. */
export const AMINO_DHT_PROTOCOL = '/ipfs/kad/1.0.0'

/** Own swarms speak their own DHT protocol so they never mix with amino. */
export const BURROW_DHT_PROTOCOL = '/burrow/kad/1.0.0'

/** Known peers redialled at start, so a node rejoins without its bootstrap list. */
export const RECONNECT_MAX_PEERS = 16

/** Stop redialling once this many known peers answered. */
export const RECONNECT_ENOUGH = 4

/** Peer store metadata key holding the last time (ms since epoch) we were connected. */
export const LAST_SEEN_KEY = 'burrow:last-seen'

/** A DHT lookup gives up after this long (the public DHT needs several hops). */
export const FIND_PEER_TIMEOUT_MS = 30_000
