/**
 * @libp2p/autonat-v2, with one rule added around it: no dial-back through a relay.
 *
 * A peer asks an AutoNAT v2 server to dial back the addresses it wants verified, and the
 * stock server dials any address its transports can dial, `/p2p-circuit` ones included:
 * a peer holding reservations (each private burrow node does) had every server it met
 * open a relayed connection to it through its relays — relay capacity spent for the peer,
 * and on our side a relayed connection the path module then hole-punched to a direct one
 * nobody asked for (seen in the lab: the public dialer of test/portmap/protocols.test.ts
 * was joined to a NATed home by such a punch before it dialled). A circuit address says
 * nothing about our peer's own reachability anyway (go-libp2p's AutoNAT v2 client leaves
 * relay addresses out). The server asks `connectionManager.isDialable(addr)` before each
 * dial-back and refuses (E_DIAL_REFUSED) what is not dialable; so the service gets a
 * connection manager whose `isDialable` says no to circuit addresses. Its client, which
 * asks isDialable of random-walk peers' addresses, then dials those peers only through
 * their own addresses.
 * @see https://github.com/libp2p/specs/blob/master/autonat/autonat-v2.md
 */
import { autoNATv2 } from '@libp2p/autonat-v2'
import { isCircuitAddress } from '../connections/index.js'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

type Factory = ReturnType<typeof autoNATv2>
type Components = Parameters<Factory>[0]

/** `isDialable` of `connectionManager`, except that circuit addresses are not dialable. */
export function withoutCircuitDialBacks (connectionManager: ConnectionManager): ConnectionManager {
  const isDialable: ConnectionManager['isDialable'] = async (addrs, options) => {
    const direct = (Array.isArray(addrs) ? addrs : [addrs]).filter((a: Multiaddr) => !isCircuitAddress(a))
    if (direct.length === 0) return false
    return connectionManager.isDialable(direct, options)
  }
  return new Proxy(connectionManager, {
    get (target, prop) {
      if (prop === 'isDialable') return isDialable
      const value = Reflect.get(target, prop, target) as unknown
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    }
  })
}

/** The AutoNAT v2 service (client and server), refusing dial-backs through relays. */
export function autoNatV2 (init?: Parameters<typeof autoNATv2>[0]): Factory {
  const factory = autoNATv2(init)
  return (components: Components) => {
    const guarded = withoutCircuitDialBacks(components.connectionManager)
    return factory(new Proxy(components, {
      get (target, prop) {
        return prop === 'connectionManager' ? guarded : Reflect.get(target, prop, target) as unknown
      }
    }))
  }
}
