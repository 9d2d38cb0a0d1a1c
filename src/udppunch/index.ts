export { UdpPunchService, udpPunch, webrtcAddressFor, udpAttemptsOf, UDP_PUNCH_TIMEOUT_MS, MAX_ATTEMPTS, FAILED_PEER_BACKOFF_MS, UDP_AFTER_TCP_MS } from './udppunch.js'
export type { UdpPunchAttempt, UdpPunchEvents, UdpPunchInit, UdpPunchComponents } from './udppunch.js'
