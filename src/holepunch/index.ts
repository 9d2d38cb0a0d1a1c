/**
 * Hole punching: DCUtR over TCP from one stable dial port (libp2p/specs relay/DCUtR.md).
 */
export { HolePunchService, holePunch, holePunchAttemptsOf } from './holepunch.js'
export type { HolePunchAttempt, HolePunchPhases, HolePunchEvents, HolePunchInit } from './holepunch.js'
export { stablePortTcp, freeTcpPort, fromDialPort } from './stable-port-tcp.js'
export { DCUTR_PROTOCOL } from './constants.js'
