/**
 * One PeerId lookup over the DHT, walked again when a walk ends without the peer.
 *
 * A kad-dht walk stops when no server it asked names anyone closer to the key than those
 * already asked. Where k-buckets on the way are sparse (a young or small swarm, or servers
 * that have not met their neighbours yet) a walk can stop at such a local minimum, a few
 * servers short of one that is connected to the peer; it ends in ~100 ms with "not found"
 * while the peer is reachable. A second walk starts from a routing table the first one
 * changed (the servers it met were offered to our k-buckets) and its answers arrive in
 * another order, so it often takes another path: measured in the DHT benchmark's sparse
 * swarm (k = 2, 50 nodes), a walk that found nothing found the peer on the next try.
 * We walk at most FIND_PEER_WALKS times, until the caller's signal ends it.
 */
import type { PeerId, AbortOptions } from '@libp2p/interface'
import type { KadDHT, QueryEvent } from '@libp2p/kad-dht'

/** walks per lookup, at most */
export const FIND_PEER_WALKS = 3

/** what the walk needs of kad-dht */
export type FindPeerDht = Pick<KadDHT, 'findPeer'>

export interface FindPeerOptions extends AbortOptions {
  /** every event of every walk, in order (the DHT benchmark counts queries and hops from them) */
  onEvent?: (event: QueryEvent, walk: number) => void
  /** at most this many walks (default FIND_PEER_WALKS) */
  walks?: number
}

export interface FoundPeer {
  /** the peer's addresses as the answering server knew them (may be empty) */
  multiaddrs: Array<{ toString: () => string }>
  /** the server whose answer named the peer */
  from: PeerId
  /** the walk that found it, from 1 */
  walk: number
}

/**
 * Looks `id` up by walking the DHT (kad-dht findPeer, the peer store's cache not used), again
 * when a walk ends without it, up to `walks` walks. Resolves the first answer that names the
 * peer with at least one address, or undefined when every walk ended without one. Rejects
 * only when the signal aborts (with the signal's reason).
 */
export async function findPeerWalking (dht: FindPeerDht, id: PeerId, options: FindPeerOptions = {}): Promise<FoundPeer | undefined> {
  const walks = options.walks ?? FIND_PEER_WALKS
  for (let walk = 1; walk <= walks; walk++) {
    options.signal?.throwIfAborted()
    try {
      for await (const evt of dht.findPeer(id, { signal: options.signal, useCache: false })) {
        options.onEvent?.(evt, walk)
        if (evt.name === 'FINAL_PEER' && evt.peer.multiaddrs.length > 0) {
          return { multiaddrs: evt.peer.multiaddrs, from: evt.from, walk }
        }
      }
    } catch (err) {
      // a walk that fails for its own reasons (no peers to ask yet, a query error) is one walk;
      // the caller's signal ending it is the end of the lookup
      if (options.signal?.aborted === true) throw options.signal.reason
      if (walk === walks) throw err
    }
  }
  return undefined
}
