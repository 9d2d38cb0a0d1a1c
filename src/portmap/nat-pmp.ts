/**
 * NAT-PMP, RFC 6886: a 2-byte external-address request and 12-byte mapping requests, sent
 * over UDP to port 5351 of the default gateway.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6886
 */
import { logger } from '@libp2p/logger'
import { NATPMP_VERSION, PCP_SERVER_PORT, REQUEST_RETRANSMIT_MS } from './constants.js'
import { EpochTracker, natPmpEpochLost } from './epoch.js'
import { MalformedResponseError, MappingRefusedError } from './errors.js'
import { udpExchange } from './udp.js'
import type { GatewayState, MapRequest, MapResult, MappingClient, TransportProtocol } from './types.js'
import type { AbortOptions } from '@libp2p/interface'

const log = logger('burrow:portmap:nat-pmp')

/** Opcodes, RFC 6886 §3.2 and §3.3; a response's opcode is the request's plus 128. */
export const OP_EXTERNAL_ADDRESS = 0
export const OP_MAP_UDP = 1
export const OP_MAP_TCP = 2
const RESPONSE_BIT = 128

/** Result codes, RFC 6886 §3.5. */
export const NATPMP_RESULTS: Record<number, string> = {
  0: 'success',
  1: 'unsupported version',
  2: 'not authorized/refused (the gateway supports NAT-PMP but mapping is switched off)',
  3: 'network failure (the gateway has no external address)',
  4: 'out of resources',
  5: 'unsupported opcode'
}

export interface NatPmpExternalAddressResponse {
  resultCode: number
  epoch: number
  externalIp: string
}

export interface NatPmpMapResponse {
  opcode: number
  resultCode: number
  epoch: number
  internalPort: number
  externalPort: number
  lifetimeSeconds: number
}

/** §3.2: version 0, opcode 0. */
export function encodeExternalAddressRequest (): Uint8Array {
  return Uint8Array.of(NATPMP_VERSION, OP_EXTERNAL_ADDRESS)
}

/** §3.3: version, opcode (1 UDP, 2 TCP), reserved, internal port, suggested external port, lifetime. */
export function encodeMapRequest (protocol: TransportProtocol, internalPort: number, suggestedExternalPort: number, lifetimeSeconds: number): Uint8Array {
  const buf = new Uint8Array(12)
  const view = new DataView(buf.buffer)
  view.setUint8(0, NATPMP_VERSION)
  view.setUint8(1, protocol === 'udp' ? OP_MAP_UDP : OP_MAP_TCP)
  view.setUint16(2, 0)
  view.setUint16(4, internalPort)
  view.setUint16(6, suggestedExternalPort)
  view.setUint32(8, lifetimeSeconds)
  return buf
}

/** The result code of any NAT-PMP response (bytes 2-3), or undefined if it is not one for `opcode`. */
function header (buf: Uint8Array, opcode: number): { resultCode: number, view: DataView } | undefined {
  if (buf.byteLength < 4 || buf[0] !== NATPMP_VERSION || buf[1] !== opcode + RESPONSE_BIT) return undefined
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  return { resultCode: view.getUint16(2), view }
}

/** §3.2: version, 128, result, seconds since start of epoch, external IPv4 address (12 bytes). */
export function decodeExternalAddressResponse (buf: Uint8Array): NatPmpExternalAddressResponse | undefined {
  const h = header(buf, OP_EXTERNAL_ADDRESS)
  if (h == null) return undefined
  // an error answer may be cut short (§3.5: only the first 8 bytes are meaningful)
  if (h.resultCode !== 0) return { resultCode: h.resultCode, epoch: buf.byteLength >= 8 ? h.view.getUint32(4) : 0, externalIp: '' }
  if (buf.byteLength < 12) throw new MalformedResponseError(`NAT-PMP external address response of ${buf.byteLength} bytes (12 expected)`)
  return { resultCode: 0, epoch: h.view.getUint32(4), externalIp: `${buf[8]}.${buf[9]}.${buf[10]}.${buf[11]}` }
}

/** §3.3: version, 128 + op, result, epoch, internal port, mapped external port, lifetime (16 bytes). */
export function decodeMapResponse (buf: Uint8Array, protocol: TransportProtocol): NatPmpMapResponse | undefined {
  const opcode = protocol === 'udp' ? OP_MAP_UDP : OP_MAP_TCP
  const h = header(buf, opcode)
  if (h == null) return undefined
  if (h.resultCode !== 0) return { opcode, resultCode: h.resultCode, epoch: buf.byteLength >= 8 ? h.view.getUint32(4) : 0, internalPort: 0, externalPort: 0, lifetimeSeconds: 0 }
  if (buf.byteLength < 16) throw new MalformedResponseError(`NAT-PMP mapping response of ${buf.byteLength} bytes (16 expected)`)
  return {
    opcode,
    resultCode: 0,
    epoch: h.view.getUint32(4),
    internalPort: h.view.getUint16(8),
    externalPort: h.view.getUint16(10),
    lifetimeSeconds: h.view.getUint32(12)
  }
}

function refused (what: string, code: number): MappingRefusedError {
  return new MappingRefusedError(`NAT-PMP ${what}: ${NATPMP_RESULTS[code] ?? `result code ${code}`}`, code)
}

/** A NAT-PMP client for one gateway. */
export class NatPmpClient implements MappingClient {
  readonly protocol = 'nat-pmp' as const
  readonly gateway: string
  private readonly epoch = new EpochTracker(natPmpEpochLost)
  private readonly port: number

  /** retransmission intervals (ms) of each request */
  private readonly retransmitMs: number[]

  constructor (gateway: string, port = PCP_SERVER_PORT, retransmitMs = REQUEST_RETRANSMIT_MS) {
    this.gateway = gateway
    this.port = port
    this.retransmitMs = retransmitMs
  }

  /** §3.2: the gateway's external address; `schedule` shortens retransmission for probes. */
  async externalAddress (options: AbortOptions = {}, schedule = this.retransmitMs): Promise<{ externalIp: string, lostState: boolean, localAddress: string }> {
    const { response, localAddress } = await udpExchange(this.gateway, this.port, encodeExternalAddressRequest(),
      decodeExternalAddressResponse, schedule, options)
    const lostState = this.epoch.observe(response.epoch)
    if (response.resultCode !== 0) throw refused('external address', response.resultCode)
    return { externalIp: response.externalIp, lostState, localAddress }
  }

  async map (request: MapRequest, options: AbortOptions = {}): Promise<MapResult> {
    // §3.3: the external address comes from its own request
    const { externalIp } = await this.externalAddress(options)
    const { response, localAddress } = await udpExchange(this.gateway, this.port,
      encodeMapRequest(request.protocol, request.internalPort, request.suggestedExternalPort, request.lifetimeSeconds),
      (buf) => decodeMapResponse(buf, request.protocol), this.retransmitMs, options)
    this.epoch.observe(response.epoch)
    if (response.resultCode !== 0) throw refused('mapping', response.resultCode)
    if (response.internalPort !== request.internalPort) throw new MalformedResponseError(`NAT-PMP answered for port ${response.internalPort}, not ${request.internalPort}`)
    log('mapped %s %s:%d -> %s:%d for %d s', request.protocol, localAddress, request.internalPort, externalIp, response.externalPort, response.lifetimeSeconds)
    return {
      protocol: request.protocol,
      internalIp: localAddress,
      internalPort: request.internalPort,
      externalIp,
      externalPort: response.externalPort,
      lifetimeSeconds: response.lifetimeSeconds
    }
  }

  /** §3.4: a mapping request with lifetime 0 (and external port 0) deletes it. */
  async unmap (mapping: MapResult, options: AbortOptions = {}): Promise<void> {
    const { response } = await udpExchange(this.gateway, this.port, encodeMapRequest(mapping.protocol, mapping.internalPort, 0, 0),
      (buf) => decodeMapResponse(buf, mapping.protocol), this.retransmitMs, options)
    if (response.resultCode !== 0) throw refused('delete', response.resultCode)
    log('deleted %s mapping of port %d', mapping.protocol, mapping.internalPort)
  }

  /**
   * The external address and the epoch (§3.6); then each mapping is renewed (a client may
   * renew at any time, §3.3), which also brings back a mapping that a gateway lost without
   * its epoch showing it (miniupnpd with `system_uptime=yes` reports the host's uptime).
   */
  async check (mappings: MapResult[], options: AbortOptions = {}): Promise<GatewayState> {
    const state = await this.externalAddress(options)
    let lostState = state.lostState
    for (const m of mappings) {
      const { response } = await udpExchange(this.gateway, this.port,
        encodeMapRequest(m.protocol, m.internalPort, m.externalPort, m.lifetimeSeconds),
        (buf) => decodeMapResponse(buf, m.protocol), this.retransmitMs, options)
      if (this.epoch.observe(response.epoch)) lostState = true
      if (response.resultCode !== 0) throw refused('renewal', response.resultCode)
      if (response.externalPort !== m.externalPort) lostState = true
    }
    return { externalIp: state.externalIp, lostState }
  }
}
