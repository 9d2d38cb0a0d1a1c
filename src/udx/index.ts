export { udxTransport, UdxTransport } from './transport.js'
export type { UdxTransportInit, ConnectOverOptions, MainSocket } from './transport.js'
export { registerUdxProtocol, udxHostPort, udxMultiaddr, isUdxAddress } from './multiaddr.js'
export { DatagramDemux, kindOf } from './demux.js'
export type { DemuxKind, DatagramHandler } from './demux.js'
export { UdxEndpoint, encodeHandshake, decodeHandshake, HELLO, ACK, PUNCH } from './handshake.js'
export { UdxSocketError, UdxHandshakeError, UdxPunchError, UdxProbeError, UdxProtocolError } from './errors.js'
export * from './constants.js'
export { udxPunch, UdxPunchService, methodFor, encodePunchMessage, decodePunchMessage, probeTargetRefusal } from './punch.js'
export type { UdxAttemptRecord, UdxMethod, UdxPunchInit, UdpStatus, ConnectMessage, PunchMessage } from './punch.js'
export { checkUdpMapping, verdictOf } from './stun.js'
export type { UdpMapping, UdpMappingReport, StunSourceResult } from './stun.js'
export {
  openBirthdaySockets, probeRandomPorts, ProbeBudget, DEFAULT_PROBE_CAPS, DEFAULT_PROBE_BUDGET, PROCESS_PROBE_BUDGET,
  DEFAULT_LOW_TTL, PROBE_BYTES, PROBE_KIND, NONCE_BYTES, MAX_PROBES_PER_SECOND, PROBE_PORT_MIN, PROBE_PORT_MAX,
  encodeProbe, decodeProbe, hitProbability, probeCapsFromConfig, probeBudgetFromConfig
} from './birthday.js'
export type { ProbeCaps, BirthdayResult, BirthdayOptions, ProbeKind } from './birthday.js'
export { udxListenAddresses, udxStunSources, stunAlternatePort } from './config.js'
