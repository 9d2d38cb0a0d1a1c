import { createServer } from 'node:net'
import { tcp } from '@libp2p/tcp'
import { punchDialOptions } from './fast-upgrade.js'
import type { TCPComponents, TCPOptions, TCPSocketOptions } from '@libp2p/tcp'
import type { Transport, DialTransportOptions, Connection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'


/**
 * Connections that really left from the dial port. Only what peers observe of these
 * says where our punchable public port is; a dial that fell back to an ephemeral
 * port would otherwise report a port nobody can reach again.
 */
export const fromDialPort = new WeakSet<Connection>()

/** A hole punch's dial: it must leave from the dial port (the port peers observed), never from another. */
export interface PunchDialOptions {
  punch?: boolean
}

/** A second punch dial to an address we already hold a connection to from the dial port. */
export class DuplicateDialError extends Error {
  override name = 'DuplicateDialError'
}

/** Picks a free TCP port on all interfaces (bind to 0, read it, release it). */
export async function freeTcpPort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr != null ? addr.port : 0
      s.close(() => { resolve(port) })
    })
  })
}

/**
 * @libp2p/tcp with every outgoing connection leaving from one local port, so a NAT
 * with endpoint-independent mapping gives all of them the same public port — the
 * address peers observe is then the address hole punching can use (DCUtR over TCP
 * needs it; go-libp2p gets it from SO_REUSEPORT on the listen port, which Node's
 * net.connect cannot set, so burrow uses a separate dial port; libuv sets
 * SO_REUSEADDR, so many outgoing sockets share it).
 *
 * A dial that cannot bind the port (the same remote address still in TIME_WAIT from
 * a connection we closed) is retried once from an ephemeral port. A dial to an address
 * the dial port already holds (or is opening) leaves from an ephemeral port too, except a
 * punch dial (`punch: true`), which throws DuplicateDialError.
 */
export function stablePortTcp (init: TCPOptions & { dialPort: number }): (components: TCPComponents) => Transport {
  const { dialPort, ...rest } = init
  // TCPSocketOptions does not list localPort, but the transport passes dialOpts to net.connect whole
  const factory = tcp({ ...rest, dialOpts: { ...(rest.dialOpts ?? {}), localPort: dialPort } as TCPSocketOptions })
  return (components) => {
    const inner = factory(components)
    const log = components.logger.forComponent('burrow:holepunch:tcp')
    // remote ip:port we hold (or are opening) a connection to from the dial port
    const busy = new Map<string, number>()
    const hold = (key: string, n: number): void => {
      const v = (busy.get(key) ?? 0) + n
      if (v <= 0) busy.delete(key)
      else busy.set(key, v)
    }
    const dial = async (ma: Multiaddr, opts: DialTransportOptions): Promise<Connection> => {
      // a punch dial: the server of the upgrade must look inbound to yamux (patch
      // muxer-role-direction), and a burrow peer gets the fast upgrade (fast-upgrade.ts)
      const options = punchDialOptions(opts)
      const key = ma.getComponents().slice(0, 2).map(c => c.value).join(':')
      if (busy.has(key)) {
        // the same 4-tuple cannot be used twice. For a punch dial the connection we hold (or
        // are opening) is the one to use. Any other dial to that address leaves from an
        // ephemeral port: an AutoNAT dial-back (a forced dial) to a peer that we reached at the
        // very address it asks us to verify would otherwise fail, and the peer would take
        // that false "unreachable" for every peer of our network segment, for good
        if ((opts as PunchDialOptions).punch === true) {
          throw new DuplicateDialError(`already connected or connecting to ${key} from dial port ${dialPort}`)
        }
        log('dial port %d already holds a connection to %s: dialing %a from an ephemeral port', dialPort, key, ma)
        return inner.dial(ma, { ...options, localPort: 0 } as DialTransportOptions)
      }
      hold(key, 1)
      try {
        const conn = await inner.dial(ma, options)
        fromDialPort.add(conn)
        hold(key, 1)
        conn.addEventListener('close', () => { hold(key, -1) }, { once: true })
        return conn
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as { cause?: NodeJS.ErrnoException }).cause?.code
        if (code !== 'EADDRINUSE' && code !== 'EADDRNOTAVAIL') throw err
        // a connection we closed is still in TIME_WAIT for this address: use another port
        log('dial port %d busy for %a (%s), dialing from an ephemeral port', dialPort, ma, code)
        return inner.dial(ma, { ...options, localPort: 0 } as DialTransportOptions)
      } finally {
        hold(key, -1)
      }
    }
    return new Proxy(inner, {
      get (target, prop, receiver) {
        if (prop === 'dial') return dial
        const v = Reflect.get(target, prop, receiver) as unknown
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
      }
    })
  }
}
