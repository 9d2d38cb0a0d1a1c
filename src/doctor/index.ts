/**
 * `burrow doctor`: active probes of what stands between this node and its peers (NAT
 * mapping behaviour per protocol, the gateway's mapping protocols, hairpinning, relay RTTs).
 */
export { runDoctor, mappingFrom, verdictOf } from './doctor.js'
export type { DoctorReport, DoctorComponents, DoctorLibp2p, RelayProbe, ProtocolVerdict, MappingVerdict } from './doctor.js'
export * from './constants.js'
