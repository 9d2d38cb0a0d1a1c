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
