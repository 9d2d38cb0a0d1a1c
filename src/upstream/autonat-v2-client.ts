import { changed, field } from './patch.js'
import type { UpstreamPatch } from './patch.js'
import type { Connection } from '@libp2p/interface'

/**
 * @libp2p/autonat-v2 asks a peer to verify our unverified addresses once, when the peer
 * connects (its topology's onConnect). A port mapping is made a few seconds after the
 * bootstrap connections, so its address would wait for a new peer, which may never come on
 * a small swarm. burrow calls the client's `verifyExternalAddresses(connection)` (what
 * onConnect calls) over the connections already open (src/nat/dial-back.ts); the service
 * keeps the client in a field its typings mark private.
 */
export const AUTONAT_V2_CLIENT: UpstreamPatch = {
  id: 'autonat-v2-dial-back',
  package: '@libp2p/autonat-v2',
  writtenFor: '2.0.x',
  issue: 'none filed: no public way to ask for a verification of a new address over open connections',
  what: 'calls service.client.verifyExternalAddresses(connection) and waits on service.client.queue.onIdle',
  file: 'src/upstream/autonat-v2-client.ts'
}

export interface AutoNatClientInternals {
  verifyExternalAddresses: (connection: Connection) => Promise<void>
  queue?: { onIdle?: (options?: { signal?: AbortSignal }) => Promise<void> }
}

/** The AutoNAT v2 service's client, or UPSTREAM_CHANGED. */
export function checkAutoNatV2Client (service: unknown, installed?: string): AutoNatClientInternals {
  const client = field(service, 'client')
  if (typeof field(client, 'verifyExternalAddresses') !== 'function') throw changed(AUTONAT_V2_CLIENT, 'client.verifyExternalAddresses on the AutoNAT v2 service', installed)
  if (typeof field(field(client, 'queue'), 'onIdle') !== 'function') throw changed(AUTONAT_V2_CLIENT, 'client.queue.onIdle on the AutoNAT v2 service', installed)
  return client as AutoNatClientInternals
}
