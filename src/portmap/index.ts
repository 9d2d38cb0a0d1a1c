/**
 * Port mapping on the home router: one client (PortMapper) with UPnP IGD, NAT-PMP and PCP
 * behind it, manual forwards and LAN-only mode, and the report `burrow nat` prints.
 */
export { PortMapper, portMapper } from './port-mapper.js'
export type {
  PortMapperInit, PortMapperComponents, PortMapperEvents, PortMapperReport, PortMapperStatus, ActiveMapping, MappingLost
} from './port-mapper.js'
export type { MappingProtocolName, PortMappingMode, ProtocolProbe, MapRequest, MapResult, MappingClient, GatewayState } from './types.js'
export { NatPmpClient } from './nat-pmp.js'
export { PcpClient } from './pcp.js'
export { UpnpClient } from './upnp.js'
export { defaultGateway, externalMultiaddr } from './addresses.js'
export type { AddressKind } from './addresses.js'
export { buildNatReport } from './report.js'
export type { NatReport, NodeView } from './report.js'
export * from './errors.js'
export { LanDiscovery, lanDiscovery, lanAddressFilter } from './lan.js'
