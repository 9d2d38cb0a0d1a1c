/**
 * PCP, RFC 6887: MAP requests (with a nonce that proves a renewal or delete comes from the
 * client that made the mapping) and ANNOUNCE, over UDP to port 5351 of the default gateway.
 * Every answer carries the server's epoch, which reveals a reboot (§8.5).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6887
 */
import { randomBytes } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import { logger } from '@libp2p/logger'
import { PCP_SERVER_PORT, PCP_VERSION, REQUEST_RETRANSMIT_MS } from './constants.js'
import { EpochTracker, pcpEpochLost } from './epoch.js'
import { MalformedResponseError, MappingRefusedError } from './errors.js'
import { udpExchange } from './udp.js'
import type { GatewayState, MapRequest, MapResult, MappingClient, TransportProtocol } from './types.js'
import type { AbortOptions } from '@libp2p/interface'

const log = logger('burrow:portmap:pcp')

/** Opcodes, §19.2. */
export const OP_ANNOUNCE = 0
export const OP_MAP = 1
const RESPONSE_BIT = 0x80

/** IANA protocol numbers in the MAP payload, §11.1. */
const IPPROTO: Record<TransportProtocol, number> = { tcp: 6, udp: 17 }

/** §7.1: request header 24 bytes; §11.1: MAP payload 36 bytes. */
const HEADER_BYTES = 24
const MAP_PAYLOAD_BYTES = 36
export const NONCE_BYTES = 12

/** Result codes, §7.4. */
export const PCP_RESULTS: Record<number, string> = {
  0: 'success',
  1: 'unsupported version',
  2: 'not authorized (the gateway speaks PCP but refuses mappings: check its settings)',
  3: 'malformed request',
  4: 'unsupported opcode',
  5: 'unsupported option',
  6: 'malformed option',
  7: 'network failure',
  8: 'no resources',
  9: 'unsupported protocol',
  10: 'user exceeded quota',
  11: 'cannot provide external address/port',
  12: 'address mismatch (a NAT between us and the gateway?)',
  13: 'excessive remote peers'
}

/** An address as PCP carries it: 16 bytes, IPv4 as an IPv4-mapped IPv6 address (§5). */
export function encodeAddress (ip: string): Uint8Array {
  const out = new Uint8Array(16)
  if (isIPv4(ip)) {
    out[10] = 0xff
    out[11] = 0xff
    ip.split('.').forEach((p, i) => { out[12 + i] = Number(p) })
    return out
  }
  if (!isIPv6(ip)) throw new MalformedResponseError(`not an IP address: ${ip}`)
  const [head = '', tail = ''] = ip.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail === '' ? [] : tail.split(':')
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h
  groups.forEach((g, i) => { out[2 * i] = parseInt(g, 16) >> 8; out[2 * i + 1] = parseInt(g, 16) & 0xff })
  return out
}

export function decodeAddress (b: Uint8Array): string {
  const mapped = b.subarray(0, 10).every(x => x === 0) && b[10] === 0xff && b[11] === 0xff
  if (mapped) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push((((b[i] ?? 0) << 8) | (b[i + 1] ?? 0)).toString(16))
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')
}

/** §7.1: version 2, R=0 and opcode, reserved, requested lifetime, client IP address. */
function encodeHeader (opcode: number, lifetimeSeconds: number, clientIp: string, payloadBytes: number): { buf: Uint8Array, view: DataView } {
  const buf = new Uint8Array(HEADER_BYTES + payloadBytes)
  const view = new DataView(buf.buffer)
  view.setUint8(0, PCP_VERSION)
  view.setUint8(1, opcode & 0x7f)
  view.setUint32(4, lifetimeSeconds)
  buf.set(encodeAddress(clientIp), 8)
  return { buf, view }
}

/** §14.1: ANNOUNCE, lifetime 0, no payload: the cheapest way to hear the server's epoch. */
export function encodeAnnounceRequest (clientIp: string): Uint8Array {
  return encodeHeader(OP_ANNOUNCE, 0, clientIp, 0).buf
}

export interface PcpMapRequestFields {
  nonce: Uint8Array
  protocol: TransportProtocol
  internalPort: number
  suggestedExternalPort: number
  /** '' for no preference: the all-zeros address of the client's family (§11.1) */
  suggestedExternalIp: string
  lifetimeSeconds: number
  clientIp: string
}

/** §11.1: MAP payload: nonce, protocol, reserved, internal port, suggested external port and address. */
export function encodeMapRequest (f: PcpMapRequestFields): Uint8Array {
  if (f.nonce.byteLength !== NONCE_BYTES) throw new RangeError('a PCP nonce is 12 bytes')
  const { buf, view } = encodeHeader(OP_MAP, f.lifetimeSeconds, f.clientIp, MAP_PAYLOAD_BYTES)
  buf.set(f.nonce, HEADER_BYTES)
  view.setUint8(HEADER_BYTES + 12, IPPROTO[f.protocol])
  view.setUint16(HEADER_BYTES + 16, f.internalPort)
  view.setUint16(HEADER_BYTES + 18, f.suggestedExternalPort)
  const zeros = isIPv6(f.clientIp) ? '::' : '0.0.0.0'
  buf.set(encodeAddress(f.suggestedExternalIp === '' ? zeros : f.suggestedExternalIp), HEADER_BYTES + 20)
  return buf
}

export interface PcpResponse {
  opcode: number
  resultCode: number
  lifetimeSeconds: number
  epoch: number
  /** MAP only */
  map?: { nonce: Uint8Array, protocol: number, internalPort: number, externalPort: number, externalIp: string }
}

/** §7.2: version, R=1 and opcode, reserved, result code, lifetime, epoch time, 96 reserved bits; then the opcode's payload. */
export function decodeResponse (buf: Uint8Array): PcpResponse | undefined {
  // a NAT-PMP-only gateway answers a PCP request with a NAT-PMP "unsupported version" (§9)
  if (buf.byteLength < HEADER_BYTES || buf[0] !== PCP_VERSION || ((buf[1] ?? 0) & RESPONSE_BIT) === 0) return undefined
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const res: PcpResponse = {
    opcode: view.getUint8(1) & 0x7f,
    resultCode: view.getUint8(3),
    lifetimeSeconds: view.getUint32(4),
    epoch: view.getUint32(8)
  }
  if (res.opcode === OP_MAP) {
    if (buf.byteLength < HEADER_BYTES + MAP_PAYLOAD_BYTES) throw new MalformedResponseError(`PCP MAP response of ${buf.byteLength} bytes`)
    const p = HEADER_BYTES
    res.map = {
      nonce: buf.slice(p, p + NONCE_BYTES),
      protocol: view.getUint8(p + 12),
      internalPort: view.getUint16(p + 16),
      externalPort: view.getUint16(p + 18),
      externalIp: decodeAddress(buf.subarray(p + 20, p + 36))
    }
  }
  return res
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i])
}

/** A PCP client for one gateway: one nonce per mapping, kept for its renewals and its delete (§11.2). */
export class PcpClient implements MappingClient {
  readonly protocol = 'pcp' as const
  readonly gateway: string
  private readonly port: number
  private readonly epoch = new EpochTracker(pcpEpochLost)
  private readonly nonces = new Map<string, Uint8Array>()
  private lostSinceCheck = false

  /** retransmission intervals (ms) of each request */
  private readonly retransmitMs: number[]

  constructor (gateway: string, port = PCP_SERVER_PORT, retransmitMs = REQUEST_RETRANSMIT_MS) {
    this.gateway = gateway
    this.port = port
    this.retransmitMs = retransmitMs
  }

  private nonceFor (protocol: TransportProtocol, internalPort: number): Uint8Array {
    const key = `${protocol}/${internalPort}`
    let nonce = this.nonces.get(key)
    if (nonce == null) {
      nonce = new Uint8Array(randomBytes(NONCE_BYTES))
      this.nonces.set(key, nonce)
    }
    return nonce
  }

  private observeEpoch (epoch: number): void {
    if (this.epoch.observe(epoch)) {
      log('server epoch %d reveals lost state (reboot)', epoch)
      this.lostSinceCheck = true
    }
  }

  /** §14.1: ANNOUNCE; resolves once the server answers (any result); for probing. */
  async announce (options: AbortOptions = {}, schedule = this.retransmitMs): Promise<PcpResponse> {
    const { response } = await udpExchange(this.gateway, this.port, (local) => encodeAnnounceRequest(local),
      (buf) => { const r = decodeResponse(buf); return r?.opcode === OP_ANNOUNCE ? r : undefined }, schedule, options)
    this.observeEpoch(response.epoch)
    return response
  }

  private async mapRaw (request: MapRequest, suggestedExternalIp: string, options: AbortOptions): Promise<MapResult> {
    const nonce = this.nonceFor(request.protocol, request.internalPort)
    const { response, localAddress } = await udpExchange(this.gateway, this.port,
      (clientIp) => encodeMapRequest({ ...request, nonce, suggestedExternalIp, clientIp }),
      (buf) => {
        const r = decodeResponse(buf)
        // §11.3: a MAP response is ours only if nonce, protocol and internal port match
        if (r?.opcode !== OP_MAP || r.map == null) return undefined
        if (!sameBytes(r.map.nonce, nonce) || r.map.internalPort !== request.internalPort) return undefined
        return r
      }, this.retransmitMs, options)
    this.observeEpoch(response.epoch)
    if (response.resultCode !== 0) {
      throw new MappingRefusedError(`PCP MAP: ${PCP_RESULTS[response.resultCode] ?? `result code ${response.resultCode}`}`, response.resultCode)
    }
    const map = response.map ?? (() => { throw new MalformedResponseError('PCP MAP response without payload') })()
    return {
      protocol: request.protocol,
      internalIp: localAddress,
      internalPort: request.internalPort,
      externalIp: map.externalIp,
      externalPort: map.externalPort,
      lifetimeSeconds: response.lifetimeSeconds
    }
  }

  async map (request: MapRequest, options: AbortOptions = {}): Promise<MapResult> {
    const result = await this.mapRaw(request, '', options)
    log('mapped %s %s:%d -> %s:%d for %d s', request.protocol, result.internalIp, request.internalPort, result.externalIp, result.externalPort, result.lifetimeSeconds)
    return result
  }

  /** §15: a MAP with the same nonce and lifetime 0 deletes the mapping. */
  async unmap (mapping: MapResult, options: AbortOptions = {}): Promise<void> {
    await this.mapRaw({ protocol: mapping.protocol, internalPort: mapping.internalPort, suggestedExternalPort: 0, lifetimeSeconds: 0 }, '', options)
    this.nonces.delete(`${mapping.protocol}/${mapping.internalPort}`)
    log('deleted %s mapping of port %d', mapping.protocol, mapping.internalPort)
  }

  /**
   * Renews our mappings (a client may renew whenever it likes, §11.2.1): each answer holds
   * the external address now and the epoch. Without mappings, ANNOUNCE gives the epoch only.
   */
  async check (mappings: MapResult[], options: AbortOptions = {}): Promise<GatewayState> {
    let externalIp = ''
    if (mappings.length === 0) {
      await this.announce(options)
    }
    for (const m of mappings) {
      const r = await this.mapRaw({ protocol: m.protocol, internalPort: m.internalPort, suggestedExternalPort: m.externalPort, lifetimeSeconds: m.lifetimeSeconds },
        m.externalIp, options)
      externalIp = r.externalIp
      if (r.externalPort !== m.externalPort) this.lostSinceCheck = true
    }
    const lostState = this.lostSinceCheck
    this.lostSinceCheck = false
    return { externalIp, lostState }
  }
}
