/**
 * Reachability and NAT behaviour: what peers observe of our connections (identify),
 * AutoNAT dial-backs, and the verdict `status` shows.
 */
export { ReachabilityService, reachability } from './reachability.js'
export type { Reachability, ReachabilityState, ReachabilityEvents, ReachabilityStatus, ReachabilitySource } from './reachability.js'
export { ObservedAddresses, tcpEndpoint, localIps } from './observed.js'
export { autoNatDialBack, autoNatDialBackService, AutoNatDialBackService, AUTONAT_V2_DIAL_REQUEST } from './dial-back.js'
export type { DialBack, DialBackComponents, AutoNatDialBackComponents, MappingSource } from './dial-back.js'
export type { Observation, MappingBehaviour } from './observed.js'
export { AutoNatV1Server, autoNatV1Server, AUTONAT_V1_PROTOCOL } from './autonat-v1.js'
export { autoNatV2, withoutCircuitDialBacks } from './autonat-v2.js'
