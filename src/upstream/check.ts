import { logger } from '@libp2p/logger'
import { yamux } from '@chainsafe/libp2p-yamux'
import { AUTONAT_V1_SERVER, checkAutoNatV1Server } from './autonat-v1-server.js'
import { AUTONAT_V2_CLIENT, checkAutoNatV2Client } from './autonat-v2-client.js'
import { CONNECTION_CHOICE, checkConnectionManager } from './connection-choice.js'
import { KAD_DHT_INBOUND, checkKadDhtRpc } from './kad-dht-inbound.js'
import { MUXER_ROLE, checkMuxerRole } from './muxer-role.js'
import { field, importInternal } from './patch.js'
import { RELAY_HOP_HANDLER, checkRelayHopPb, checkRelayHopServer } from './relay-hop.js'
import { RELAY_LIMIT_CODEC, checkRelayLimitCodec } from './relay-limit-codec.js'
import { RELAY_RESERVATION_STORE, checkReservationStore } from './relay-reservation-store.js'
import { inRange, installedVersion } from './versions.js'
import type { UpstreamPatch } from './patch.js'

const log = logger('burrow:upstream')

/** Every patch of a dependency's behaviour (docs/DESIGN.md, "Upstream patches"). */
export const UPSTREAM_PATCHES: readonly UpstreamPatch[] = [RELAY_LIMIT_CODEC, RELAY_HOP_HANDLER, RELAY_RESERVATION_STORE, MUXER_ROLE, AUTONAT_V2_CLIENT, AUTONAT_V1_SERVER, KAD_DHT_INBOUND, CONNECTION_CHOICE]

/** Which capabilities are on: a patch is checked only when the capability that needs it is. */
export interface UpstreamNeeds {
  /** this node may serve as a relay (relay-limit-codec, relay-hop-handler) */
  relayServer: boolean
  /** this node holds relay reservations (relay-reservation-store) */
  relayClient: boolean
  /** TCP hole punching from the dial port (muxer-role-direction) */
  holePunch: boolean
  /** port mapping, whose addresses AutoNAT v2 dial-backs confirm (autonat-v2-dial-back) */
  portMapping: boolean
}

/** The assembled (not yet started) libp2p node, as far as the checks look at it. */
export interface UpstreamSubjects {
  services: Record<string, unknown>
  /** the transports the transport manager holds */
  transports: unknown[]
  /** the connection manager (connection-choice); absent in checks of single services */
  connectionManager?: unknown
}

/**
 * Runs at start, after libp2p is assembled and before it starts: every patch whose
 * capability is on is checked against the installed package, and the first whose shape
 * is gone stops the start with one line (UpstreamChangedError, `UPSTREAM_CHANGED: …`).
 * A package outside the range a patch was written for, with the shape still there, is
 * logged once.
 */
export async function checkUpstream (subjects: UpstreamSubjects, needs: UpstreamNeeds): Promise<void> {
  const checked: UpstreamPatch[] = []
  if (needs.relayServer) {
    const pb = await importInternal(RELAY_HOP_HANDLER, './pb/index.js')
    checkRelayLimitCodec(pb)
    checkRelayHopPb(pb)
    checkRelayHopServer(subjects.services.relay)
    checked.push(RELAY_LIMIT_CODEC, RELAY_HOP_HANDLER)
  }
  if (needs.relayClient) {
    checkReservationStore(subjects.transports)
    checked.push(RELAY_RESERVATION_STORE)
  }
  if (needs.holePunch) {
    checkMuxerRole(yamux)
    checked.push(MUXER_ROLE)
  }
  if (needs.portMapping && subjects.services.autoNAT != null) {
    checkAutoNatV2Client(subjects.services.autoNAT)
    checked.push(AUTONAT_V2_CLIENT)
  }
  if (subjects.services.dht != null) {
    checkKadDhtRpc(subjects.services.dht)
    checked.push(KAD_DHT_INBOUND)
  }
  if (subjects.services.autoNATv1 != null) {
    checkAutoNatV1Server(field(subjects.services.autoNATv1, 'stock'))
    checked.push(AUTONAT_V1_SERVER)
  }
  if (subjects.connectionManager != null) {
    checkConnectionManager(subjects.connectionManager)
    checked.push(CONNECTION_CHOICE)
  }
  for (const p of checked) {
    const installed = installedVersion(p.package)
    if (!inRange(installed, p.writtenFor)) log('patch %s was written for %s %s; %s is installed and still has its shape', p.id, p.package, p.writtenFor, installed)
  }
}
