import { changed, field, importInternal } from './patch.js'
import type { UpstreamPatch } from './patch.js'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { AbortOptions, Connection, Stream } from '@libp2p/interface'
import type { ProtobufStream } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * burrow's relay gate (src/relay/server.ts) takes the hop protocol over from the stock
 * server: it reads each hop request with the stock protobuf codec, refuses what breaks a
 * per-IP or per-peer cap, and hands the rest to the server's `handleHopProtocol`. The stock
 * server has one global reservation cap and keeps a reservation for its whole TTL after its
 * holder left, so fresh identities from one IP take every slot (the report that matches:
 * "Circuit relay stops accepting connexions", reservations not cleared).
 */
export const RELAY_HOP_HANDLER: UpstreamPatch = {
  id: 'relay-hop-handler',
  package: '@libp2p/circuit-relay-v2',
  writtenFor: '4.2.x',
  issue: 'https://github.com/libp2p/js-libp2p/issues/2833',
  what: 'the hop protocol handler is ours; requests within the caps go to the server\'s handleHopProtocol, decoded with its HopMessage codec',
  file: 'src/upstream/relay-hop.ts'
}

/** The parts of the stock protobuf module the gate uses. */
export interface HopRequest { type?: string, status?: string, peer?: unknown }
export interface HopCodec { encode: (m: unknown) => Uint8Array, decode: (b: Uint8Array | Uint8ArrayList) => HopRequest }
export interface StockHopPb {
  HopMessage: HopCodec & { Type: { RESERVE: string, CONNECT: string, STATUS: string } }
  Status: { RESERVATION_REFUSED: string, RESOURCE_LIMIT_EXCEEDED: string, MALFORMED_MESSAGE: string }
}
/** The stock server with the method that answers one parsed hop request. */
export interface StockHopServer extends CircuitRelayService {
  handleHopProtocol: (msg: { connection: Connection, stream: ProtobufStream<Stream>, request: HopRequest }, options: AbortOptions) => Promise<void>
}

/** The stock hop codec in the relay's protobuf module, or UPSTREAM_CHANGED. */
export function checkRelayHopPb (pb: unknown, installed?: string): StockHopPb {
  const hop = field(pb, 'HopMessage')
  if (typeof field(hop, 'encode') !== 'function' || typeof field(hop, 'decode') !== 'function') throw changed(RELAY_HOP_HANDLER, 'HopMessage.encode/decode in its protobuf module', installed)
  const type = field(hop, 'Type')
  for (const t of ['RESERVE', 'CONNECT', 'STATUS']) {
    if (field(type, t) == null) throw changed(RELAY_HOP_HANDLER, `HopMessage.Type.${t} in its protobuf module`, installed)
  }
  const status = field(pb, 'Status')
  for (const s of ['RESERVATION_REFUSED', 'RESOURCE_LIMIT_EXCEEDED', 'MALFORMED_MESSAGE']) {
    if (field(status, s) == null) throw changed(RELAY_HOP_HANDLER, `Status.${s} in its protobuf module`, installed)
  }
  return pb as StockHopPb
}

/** The stock relay server as the gate uses it, or UPSTREAM_CHANGED. */
export function checkRelayHopServer (relay: unknown, installed?: string): StockHopServer {
  if (typeof field(relay, 'handleHopProtocol') !== 'function') throw changed(RELAY_HOP_HANDLER, 'handleHopProtocol on the relay server service', installed)
  const reservations = field(relay, 'reservations')
  if (typeof field(reservations, 'delete') !== 'function' || typeof field(reservations, 'has') !== 'function') throw changed(RELAY_HOP_HANDLER, 'reservations map on the relay server service', installed)
  return relay as StockHopServer
}

/** Loads the stock hop codec and checks the server: both, or UPSTREAM_CHANGED. */
export async function loadStockHop (relay: unknown): Promise<{ pb: StockHopPb, server: StockHopServer }> {
  const pb = checkRelayHopPb(await importInternal(RELAY_HOP_HANDLER, './pb/index.js'))
  return { pb, server: checkRelayHopServer(relay) }
}
