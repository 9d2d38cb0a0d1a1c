/**
 * `burrow doctor`: how long each active probe may take. The whole run is bounded by their
 * sum (the probes run in parallel per kind), so the command answers within ~10 s.
 */

/** STUN (RFC 8489 §6.2.1 suggests 500 ms RTO): one retransmission, then give up on that server. */
export const STUN_RETRANSMIT_MS = 500
/** A STUN server that has not answered by then is reported as silent. */
export const STUN_TIMEOUT_MS = 2_000
/** Hairpin check: our own mapped address answers within a LAN round trip, or never. */
export const HAIRPIN_TIMEOUT_MS = 1_000
/** identify and ping over an existing connection: a few RTTs even on a slow link. */
export const RELAY_PROBE_TIMEOUT_MS = 5_000
/** Dialling a relay we are not connected to (TCP + noise + yamux). */
export const RELAY_DIAL_TIMEOUT_MS = 5_000
/** Gateway probes: NAT-PMP/PCP answer within one LAN round trip; UPnP needs SSDP (2 s) and two HTTP requests. */
export const GATEWAY_PROBE_TIMEOUT_MS = 4_000
/** At most this many relays are asked (hostile bootstrap lists must not make one doctor run dial hundreds). */
export const MAX_RELAYS_ASKED = 8
