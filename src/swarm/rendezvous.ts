import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import type { KadDHT } from '@libp2p/kad-dht'
import type { PeerId, AbortOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Re-announce this often; provider records live 48 h on amino, but relay addresses change. */
export const RENDEZVOUS_REFRESH_MS = 10 * 60_000

/**
 * The DHT key a private node provides so others can find it by PeerId alone.
 *
 * A node behind a NAT runs the DHT in client mode and is in nobody's routing table,
 * so FIND_NODE never returns it. Instead it advertises itself as a provider of
 * sha256("/burrow/peer/" + PeerId) — the rendezvous pattern of go-libp2p's
 * RoutingDiscovery — and the provider record carries its relay addresses.
 */
export async function rendezvousKey (peer: PeerId | string): Promise<CID> {
  const digest = await sha256.digest(new TextEncoder().encode(`/burrow/peer/${peer.toString()}`))
  return CID.createV1(raw.code, digest)
}

/** Announces us under our rendezvous key; resolves, once the DHT query finished, to the key and how many peers stored it. */
export async function provideSelf (dht: Pick<KadDHT, 'provide'>, self: PeerId, options: AbortOptions = {}): Promise<{ key: CID, stored: number }> {
  const key = await rendezvousKey(self)
  let stored = 0
  for await (const evt of dht.provide(key, options)) {
    if (evt.name === 'PEER_RESPONSE') stored++
  }
  return { key, stored }
}

/** Looks the peer up under its rendezvous key: the addresses its provider record carries. */
export async function findViaRendezvous (dht: KadDHT, peer: PeerId, options: AbortOptions = {}): Promise<{ addresses: Multiaddr[], from: string } | undefined> {
  const key = await rendezvousKey(peer)
  for await (const evt of dht.findProviders(key, options)) {
    if (evt.name !== 'PROVIDER') continue
    const match = evt.providers.find(p => p.id.equals(peer))
    if (match != null && match.multiaddrs.length > 0) return { addresses: match.multiaddrs, from: evt.from.toString() }
  }
  return undefined
}
