import { changed, field } from './patch.js'
import type { UpstreamPatch } from './patch.js'
import type { Connection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Which of several connections to a peer a new stream goes over. libp2p's connection manager
 * answers `openConnection(peer)` with an open connection it already has
 * (connection-manager/utils.js, `findExistingConnection`), sorting them with a comparator that
 * returns -1 whenever its first argument is direct: among several direct connections, V8's
 * sort then puts the newest first. AutoNAT v2's server dials a peer back with `force: true`,
 * a fresh connection beside the one the request came over, and closes it as soon as the
 * dial-back message is answered. Whatever opened a stream to that peer in between got the
 * fresh connection, and the stream died with it: "Cannot write to a stream that is closed", or
 * no answer until a timeout. The worst case, seen in the lab in ~1 of 50 node starts: the
 * dial-back connection's own identify made kad-dht ping the relay (its only DHT server), the
 * ping went over the dial-back connection, failed, and kad-dht left the relay out of its
 * routing table (src/swarm/dht-mode.ts, refill, is the other half of that fix).
 *
 * burrow remembers the connections opened with `force: true` (probes: they are opened to be
 * closed) and never hands one out for a peer while another open, unlimited connection to it
 * is there.
 */
export const CONNECTION_CHOICE: UpstreamPatch = {
  id: 'connection-choice',
  package: 'libp2p',
  writtenFor: '3.3.x',
  issue: 'none filed: findExistingConnection sorts with a comparator that returns -1 whenever its first argument is direct, so openConnection(peer) hands out the newest direct connection, such as the AutoNAT v2 server\'s forced dial-back connection that is closed a moment later',
  what: 'wraps connectionManager.openConnection: a connection opened with force: true is not handed out for its peer while another open, unlimited connection to that peer is there',
  file: 'src/upstream/connection-choice.ts'
}

type OpenConnection = (peer: PeerId | Multiaddr | Multiaddr[], options?: { force?: boolean } & Record<string, unknown>) => Promise<Connection>

export interface ChoosingConnectionManager {
  openConnection: OpenConnection
  getConnections: (peer?: PeerId) => Connection[]
}

/** The node's connection manager, or UPSTREAM_CHANGED. */
export function checkConnectionManager (connectionManager: unknown, installed?: string): ChoosingConnectionManager {
  if (typeof field(connectionManager, 'openConnection') !== 'function') throw changed(CONNECTION_CHOICE, 'openConnection on the connection manager', installed)
  if (typeof field(connectionManager, 'getConnections') !== 'function') throw changed(CONNECTION_CHOICE, 'getConnections on the connection manager', installed)
  return connectionManager as ChoosingConnectionManager
}

const PATCHED = Symbol.for('burrow.connection-choice')

/**
 * Installs the choice on the connection manager (before libp2p starts; the connection
 * manager's own `openStream` and every service call it through the instance). Returns
 * whether a connection is a probe (for tests).
 */
export function patchConnectionChoice (connectionManager: unknown): (conn: Connection) => boolean {
  const manager = checkConnectionManager(connectionManager)
  const existing = (manager as unknown as Record<symbol, ((conn: Connection) => boolean) | undefined>)[PATCHED]
  if (existing != null) return existing
  const original = manager.openConnection.bind(manager)
  const probes = new WeakSet<Connection>()
  manager.openConnection = async function (peer, options = {}) {
    const conn = await original(peer, options)
    if (options.force === true) {
      probes.add(conn)
      return conn
    }
    if (!probes.has(conn)) return conn
    const other = manager.getConnections(conn.remotePeer).find(c => c !== conn && c.status === 'open' && c.limits == null && !probes.has(c))
    return other ?? conn
  }
  const isProbe = (conn: Connection): boolean => probes.has(conn)
  Object.defineProperty(manager, PATCHED, { value: isProbe })
  return isProbe
}
