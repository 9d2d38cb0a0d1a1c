/**
 * Asks AutoNAT v2 to dial back a new candidate address (a port mapping) over the connections
 * already open, instead of waiting for the next peer to connect.
 *
 * @libp2p/autonat-v2 asks a peer to verify our unverified addresses once, when the peer
 * connects (its topology's onConnect). A port mapping is made a few seconds after the
 * bootstrap connections, so its address would wait for a new peer, which may never come on
 * a small swarm. The client's `verifyExternalAddresses(connection)` is what onConnect calls;
 * the service keeps the client in a field that its typings mark private.
 *
 * Written for @libp2p/autonat-v2 2.0.x (service.client.verifyExternalAddresses). If a later
 * version moves it, `autoNatDialBack` logs an error once at start and mapped addresses are
 * confirmed only as new peers connect (slower, never less safe).
 * @see https://github.com/libp2p/specs/blob/master/autonat/autonat-v2.md
 */
import { logger } from '@libp2p/logger'
import type { Connection, PeerStore } from '@libp2p/interface'

const log = logger('burrow:nat:dial-back')

/** AutoNAT v2's dial request protocol: a peer that speaks it can dial us back. */
export const AUTONAT_V2_DIAL_REQUEST = '/libp2p/autonat/2/dial-request'

interface AutoNatClientInternals {
  verifyExternalAddresses?: (connection: Connection) => Promise<void>
  queue?: { onIdle?: (options?: { signal?: AbortSignal }) => Promise<void> }
}

/** Mappings of several listen ports land within a moment of each other: one round of requests for all. */
const COALESCE_MS = 200

/** A verification round takes at most AutoNAT v2's own timeout (30 s, its TIMEOUT), plus a margin. */
const ROUND_TIMEOUT_MS = 35_000

export interface DialBackComponents {
  getConnections: () => Connection[]
  peerStore: PeerStore
}

/**
 * Returns a function that asks every directly connected AutoNAT v2 peer (one connection
 * each) to verify our unverified addresses, or undefined (logged) when the installed
 * AutoNAT cannot be asked. Rounds never overlap, and each waits until AutoNAT's queue is
 * idle: two requests for one address to one peer race, and the peer's second dial fails as
 * a duplicate (one dial port), which AutoNAT counts as "not reachable" for that network
 * segment for good.
 */
export function autoNatDialBack (autoNat: unknown, components: DialBackComponents): (() => void) | undefined {
  const client = (autoNat as { client?: AutoNatClientInternals } | undefined)?.client
  const verify = client?.verifyExternalAddresses
  if (client == null || typeof verify !== 'function') {
    log.error('@libp2p/autonat-v2 has no client.verifyExternalAddresses (written for 2.0.x): mapped addresses are confirmed only when new peers connect')
    return undefined
  }
  const idle = async (): Promise<void> => {
    await client.queue?.onIdle?.({ signal: AbortSignal.timeout(ROUND_TIMEOUT_MS) }).catch(() => {})
  }
  let chain: Promise<void> = Promise.resolve()
  let pending = false
  const round = async (): Promise<void> => {
    await new Promise(resolve => setTimeout(resolve, COALESCE_MS).unref())
    pending = false
    await idle()
    const asked = new Set<string>()
    for (const conn of components.getConnections()) {
      // AutoNAT does not run over relayed (limited) connections
      if (conn.limits != null || conn.status !== 'open') continue
      const peer = conn.remotePeer.toString()
      if (asked.has(peer)) continue
      const info = await components.peerStore.get(conn.remotePeer).catch(() => undefined)
      if (info?.protocols.includes(AUTONAT_V2_DIAL_REQUEST) !== true) continue
      asked.add(peer)
      log('asking %p to dial back our new addresses', conn.remotePeer)
      await verify.call(client, conn).catch((err: Error) => { log('dial-back request to %p failed - %e', conn.remotePeer, err) })
    }
    await idle()
  }
  return () => {
    if (pending) return
    pending = true
    chain = chain.then(round).catch((err: Error) => { log.error('dial-back requests failed - %e', err) })
  }
}
