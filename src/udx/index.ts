/**
 * burrow's own UDP path: UDX streams over sockets burrow owns, and the birthday probing that
 * finds a socket pair through an endpoint-dependent ("symmetric") NAT.
 */
export {
  openBirthdaySockets, probeRandomPorts, ProbeBudget, DEFAULT_PROBE_CAPS, DEFAULT_PROBE_BUDGET, PROCESS_PROBE_BUDGET,
  DEFAULT_LOW_TTL, PROBE_BYTES, PROBE_MAGIC, PROBE_KIND, NONCE_BYTES, MAX_PROBES_PER_SECOND, PROBE_PORT_MIN, PROBE_PORT_MAX,
  encodeProbe, decodeProbe, hitProbability, probeCapsFromConfig, probeBudgetFromConfig
} from './birthday.js'
export type { ProbeCaps, BirthdayResult, BirthdayOptions, ProbeKind } from './birthday.js'
export { DatagramDemux } from './demux.js'
export type { DemuxMagic, DemuxHandler } from './demux.js'
export { UdxPunchError } from './errors.js'
