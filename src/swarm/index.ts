/**
 * The swarm: which DHT a network speaks, its bootstrap list, and the peers we knew
 * in earlier runs (peer store on disk).
 */
export { readBootstrapFile } from './bootstrap-list.js'
export type { BootstrapFile } from './bootstrap-list.js'
export { KnownPeers, knownPeers } from './known-peers.js'
export type { KnownPeersComponents, KnownPeersInit, KnownPeersStatus } from './known-peers.js'
export { DhtModeService, dhtMode, routingTableSize, TABLE_REFILL_MS, TABLE_REFILL_MAX, TABLE_REFILL_SCAN } from './dht-mode.js'
export type { DhtModeComponents, DhtModeInit, DhtStatus, DhtLike } from './dht-mode.js'
export { RendezvousService, rendezvous, RENDEZVOUS_CHECK_MS } from './rendezvous-service.js'
export type { RendezvousComponents, RendezvousStatus } from './rendezvous-service.js'
export { AMINO_DHT_PROTOCOL, BURROW_DHT_PROTOCOL, FIND_PEER_TIMEOUT_MS } from './constants.js'
export { findPeerWalking, FIND_PEER_WALKS } from './find-peer.js'
export type { FindPeerDht, FindPeerOptions, FoundPeer } from './find-peer.js'

import { AMINO_DHT_PROTOCOL, BURROW_DHT_PROTOCOL } from './constants.js'

export function dhtProtocolFor (network: string): string {
  return network === 'amino' ? AMINO_DHT_PROTOCOL : BURROW_DHT_PROTOCOL
}
export { rendezvousKey, provideSelf, findViaRendezvous, RENDEZVOUS_REFRESH_MS } from './rendezvous.js'
