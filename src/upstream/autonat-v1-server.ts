import { changed, field } from './patch.js'
import type { UpstreamPatch } from './patch.js'
import type { Connection, Stream } from '@libp2p/interface'

/**
 * The AutoNAT v1 service of @libp2p/autonat is client and server in one, with no switch
 * for either. burrow runs AutoNAT v2 as its client (per-address dial-backs, which decide
 * when a mapped address is announced) and wants v1 only to answer peers that speak only
 * v1: a second client would confirm and unconfirm our addresses on its own rules and
 * random-walk the DHT for peers. So burrow registers the v1 protocol itself and hands each
 * stream to the stock service's `handleIncomingAutonatStream` (the server half), which its
 * typings do not list.
 */
export const AUTONAT_V1_SERVER: UpstreamPatch = {
  id: 'autonat-v1-server-only',
  package: '@libp2p/autonat',
  writtenFor: '3.0.x',
  issue: 'none filed: @libp2p/autonat cannot run as a server only (client and server are one service)',
  what: 'answers /libp2p/autonat/1.0.0 streams with the stock service\'s handleIncomingAutonatStream, never starting its client',
  file: 'src/upstream/autonat-v1-server.ts'
}

export interface StockAutoNatV1Server {
  handleIncomingAutonatStream: (stream: Stream, connection: Connection) => Promise<void>
}

/** The server half of the stock AutoNAT v1 service, or UPSTREAM_CHANGED. */
export function checkAutoNatV1Server (service: unknown, installed?: string): StockAutoNatV1Server {
  if (typeof field(service, 'handleIncomingAutonatStream') !== 'function') throw changed(AUTONAT_V1_SERVER, 'handleIncomingAutonatStream on the AutoNAT v1 service', installed)
  return service as StockAutoNatV1Server
}
