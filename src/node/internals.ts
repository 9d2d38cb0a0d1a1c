import type { AddressManager, Registrar, TransportManager } from '@libp2p/interface-internal'

/**
 * libp2p keeps the address and transport managers internal; services receive them as
 * components. This service only hands them to the node, for `status`.
 */
export interface NodeInternals {
  addressManager: AddressManager
  transportManager: TransportManager
  registrar: Registrar
}

export function nodeInternals (): (components: NodeInternals) => NodeInternals {
  return (components) => ({
    addressManager: components.addressManager,
    transportManager: components.transportManager,
    registrar: components.registrar
  })
}
