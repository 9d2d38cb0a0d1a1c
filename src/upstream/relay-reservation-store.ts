import { changed, field } from './patch.js'
import type { UpstreamPatch } from './patch.js'
import type { PeerId } from '@libp2p/interface'

/**
 * `status.reservations[].expiresAt` is read from the stock circuit relay transport's
 * reservation store: the transport is found among the transport manager's by its
 * `Symbol.toStringTag`, and the store is a field its typings do not list. The transport
 * exposes no way to ask when a reservation expires.
 */
export const RELAY_RESERVATION_STORE: UpstreamPatch = {
  id: 'relay-reservation-store',
  package: '@libp2p/circuit-relay-v2',
  writtenFor: '4.2.x',
  issue: 'none filed: the transport does not expose its reservations (expiry, addresses)',
  what: 'reads reservationStore.getReservation from the transport tagged @libp2p/circuit-relay-v2-transport',
  file: 'src/upstream/relay-reservation-store.ts'
}

/** The tag the stock transport carries (`Symbol.toStringTag`). */
export const RELAY_TRANSPORT_TAG = '@libp2p/circuit-relay-v2-transport'

export interface StockReservationStore {
  getReservation: (peer: PeerId) => { expire: bigint, addrs: Uint8Array[] } | undefined
  hasReservation: (peer: PeerId) => boolean
}

function tagOf (t: unknown): unknown {
  return typeof t === 'object' && t != null ? (t as Record<symbol, unknown>)[Symbol.toStringTag] : undefined
}

/** The stock transport's reservation store among `transports`, or UPSTREAM_CHANGED. */
export function checkReservationStore (transports: unknown[], installed?: string): StockReservationStore {
  const transport = transports.find(t => tagOf(t) === RELAY_TRANSPORT_TAG)
  if (transport == null) throw changed(RELAY_RESERVATION_STORE, `transport tagged ${RELAY_TRANSPORT_TAG}`, installed)
  const store = field(transport, 'reservationStore')
  if (typeof field(store, 'getReservation') !== 'function' || typeof field(store, 'hasReservation') !== 'function') {
    throw changed(RELAY_RESERVATION_STORE, 'reservationStore.getReservation/hasReservation on the transport', installed)
  }
  return store as StockReservationStore
}

/** The same, quietly: undefined when absent (the start-time check already said so). */
export function findReservationStore (transports: unknown[]): StockReservationStore | undefined {
  try {
    return checkReservationStore(transports, 'this version')
  } catch {
    return undefined
  }
}
