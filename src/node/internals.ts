import type { AddressManager, ConnectionManager, Registrar, TransportManager } from '@libp2p/interface-internal'
import type { ConnectionGater, Libp2pEvents, TypedEventTarget } from '@libp2p/interface'

/**
 * libp2p keeps the address and transport managers internal; services receive them as
 * components. This service only hands them to the node, for `status`.
 */
export interface NodeInternals {
  addressManager: AddressManager
  transportManager: TransportManager
  registrar: Registrar
  /** the connection manager: burrow chooses which connection new streams go over (src/upstream/connection-choice.ts) */
  connectionManager: ConnectionManager
  /** the node's gater: `dial` races its own direct dials beside the dial queue and asks it first */
  connectionGater: ConnectionGater
  /**
   * libp2p's internal event bus: services hear an event here before the node's own
   * listeners do, so the event stream listens here to tell a connection before the
   * hole punch it starts
   */
  events: TypedEventTarget<Libp2pEvents>
}

export function nodeInternals (): (components: NodeInternals) => NodeInternals {
  return (components) => ({
    addressManager: components.addressManager,
    transportManager: components.transportManager,
    registrar: components.registrar,
    connectionManager: components.connectionManager,
    connectionGater: components.connectionGater,
    events: components.events
  })
}
