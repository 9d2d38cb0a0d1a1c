/**
 * What kind of path a connection takes, judged by its remote address as go-libp2p
 * (`isRelayAddress`: a `/p2p-circuit` component) and rust-libp2p do — never by
 * `limits`: a relay may grant unlimited circuits (libp2p/specs relay/circuit-v2.md
 * allows a reservation without a Limit), and such a circuit is still relayed.
 *
 * The one definition used by hole punching, the UDP path, messaging and `status`.
 */
import type { Connection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * `…/p2p-circuit/webrtc…`: a WebRTC (private-to-private) connection's remote address.
 * It names the circuit its signalling went over, yet its packets go straight between
 * the peers.
 */
export function isWebRTCAddress (addr: Multiaddr | string): boolean {
  return /\/p2p-circuit\/webrtc(\/|$)/.test(addr.toString())
}

/** An address through a relay: it has a `/p2p-circuit` component and is not a WebRTC one. */
export function isRelayedAddress (addr: Multiaddr | string): boolean {
  const s = addr.toString()
  return /\/p2p-circuit(\/|$)/.test(s) && !isWebRTCAddress(s)
}

/** A connection whose bytes pass through a relay. */
export function isRelayed (conn: Pick<Connection, 'remoteAddr'>): boolean {
  return isRelayedAddress(conn.remoteAddr)
}

/** A connection straight to the peer (TCP, or WebRTC that only signalled over a relay). */
export function isDirect (conn: Pick<Connection, 'remoteAddr'>): boolean {
  return !isRelayed(conn)
}

/**
 * Any address with a `/p2p-circuit` component, WebRTC ones included: an address that is
 * not a plain transport address of this host or the peer (no IP to map, observe or count).
 */
export function isCircuitAddress (addr: Multiaddr | string): boolean {
  return /\/p2p-circuit(\/|$)/.test(addr.toString())
}

/**
 * A connection whose data is capped by its relay (circuit relay v2 Limit: bytes or
 * seconds); libp2p refuses streams on it unless the protocol runs on limited connections.
 */
export function isLimited (conn: Pick<Connection, 'limits'>): boolean {
  return conn.limits != null
}

export type ConnectionPath = 'direct' | 'relayed'

/** The path a connection takes: 'relayed' when its bytes pass through a relay. */
export function pathOf (conn: Pick<Connection, 'remoteAddr'>): ConnectionPath {
  return isRelayed(conn) ? 'relayed' : 'direct'
}

/** The relay's PeerId string in a relayed address (`/…/p2p/RELAY/p2p-circuit/…`), or undefined. */
export function relayOf (addr: Multiaddr | string): string | undefined {
  const s = addr.toString()
  const at = s.search(/\/p2p-circuit(\/|$)/)
  if (at <= 0) return undefined
  return /\/p2p\/([^/]+)$/.exec(s.slice(0, at))?.[1]
}

/** The part before `/p2p-circuit` (the relay's own address, with its /p2p/RELAY), or undefined. */
export function relayAddressOf (addr: Multiaddr | string): string | undefined {
  const s = addr.toString()
  const at = s.search(/\/p2p-circuit(\/|$)/)
  return at > 0 ? s.slice(0, at) : undefined
}

/** Whether `addr` is a circuit address through the relay `relay` (a PeerId string). */
export function isCircuitVia (addr: Multiaddr | string, relay: string): boolean {
  return relayOf(addr) === relay
}
