import { changed, field } from './patch.js'
import type { UpstreamPatch } from './patch.js'
import type { Connection } from '@libp2p/interface'

/**
 * @libp2p/autonat-v2 asks a peer to verify our unverified addresses once, when the peer
 * connects (its topology's onConnect). A port mapping is made a few seconds after the
 * bootstrap connections, so its address would wait for a new peer, which may never come on
 * a small swarm. burrow calls the client's `verifyExternalAddresses(connection)` (what
 * onConnect calls) over the connections already open (src/nat/dial-back.ts); the service
 * keeps the client in a field its typings mark private. While a mapping waits, burrow also
 * deletes the client's pending `dialResults` entries before asking: the client asks each
 * network segment once per address (one failed or lost answer in a one-segment swarm, and the
 * mapping is never asked about again), and lists addresses in the order their entries were
 * made (an observed UDP address made first, whose dial-back a NAT's filter leaves hanging,
 * holds the mapped one behind it on a server that dials them one by one).
 */
export const AUTONAT_V2_CLIENT: UpstreamPatch = {
  id: 'autonat-v2-dial-back',
  package: '@libp2p/autonat-v2',
  writtenFor: '2.0.x',
  issue: 'none filed: no public way to ask for a verification of a new address over open connections',
  what: 'calls service.client.verifyExternalAddresses(connection), waits on service.client.queue.onIdle, and forgets the pending entries of service.client.dialResults while a mapping waits',
  file: 'src/upstream/autonat-v2-client.ts'
}

/** What the client keeps per unverified address (its `dialResults` values), as far as burrow reads it. */
export interface AutoNatDialResult {
  success?: number
  failure?: number
  /** the network segments (first octet of the peer's IP) that answered for it: asked no more */
  networkSegments?: string[]
  /** set when the verdict is in (the entry is deleted then) */
  result?: boolean
}

export interface AutoNatClientInternals {
  verifyExternalAddresses: (connection: Connection) => Promise<void>
  queue?: { onIdle?: (options?: { signal?: AbortSignal }) => Promise<void> }
  /**
   * The addresses being verified, by multiaddr string, in the order a request lists them. An
   * entry outlives failed requests: one answer from a network segment (all of a small swarm
   * may share one) keeps the address from being asked there again until it is verified.
   */
  dialResults: Map<string, AutoNatDialResult>
}

/** The AutoNAT v2 service's client, or UPSTREAM_CHANGED. */
export function checkAutoNatV2Client (service: unknown, installed?: string): AutoNatClientInternals {
  const client = field(service, 'client')
  if (typeof field(client, 'verifyExternalAddresses') !== 'function') throw changed(AUTONAT_V2_CLIENT, 'client.verifyExternalAddresses on the AutoNAT v2 service', installed)
  if (typeof field(field(client, 'queue'), 'onIdle') !== 'function') throw changed(AUTONAT_V2_CLIENT, 'client.queue.onIdle on the AutoNAT v2 service', installed)
  if (!(field(client, 'dialResults') instanceof Map)) throw changed(AUTONAT_V2_CLIENT, 'client.dialResults (a Map) on the AutoNAT v2 service', installed)
  return client as AutoNatClientInternals
}
