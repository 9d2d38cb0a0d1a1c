/**
 * The part of STUN (RFC 5389) burrow needs: a Binding request, and a Binding success
 * response carrying XOR-MAPPED-ADDRESS (plus MAPPED-ADDRESS for RFC 3489 clients,
 * SOFTWARE and FINGERPRINT). Nothing else: no authentication, no TURN.
 */
import { crc32 } from 'node:zlib'
import { isIPv4, isIPv6 } from 'node:net'

export const STUN_MAGIC_COOKIE = 0x2112a442
export const STUN_HEADER_BYTES = 20
export const BINDING_REQUEST = 0x0001
export const BINDING_SUCCESS = 0x0101
export const ATTR_MAPPED_ADDRESS = 0x0001
export const ATTR_XOR_MAPPED_ADDRESS = 0x0020
export const ATTR_SOFTWARE = 0x8022
export const ATTR_FINGERPRINT = 0x8028
const FINGERPRINT_XOR = 0x5354554e
const FAMILY_IPV4 = 0x01
const FAMILY_IPV6 = 0x02

export interface StunHeader {
  type: number
  /** length of the attributes, bytes */
  length: number
  transactionId: Uint8Array
}

export interface StunAddress {
  address: string
  port: number
}

/**
 * Parses a STUN header; undefined when the bytes are not a STUN message (wrong leading
 * bits, cookie, length or size), so a server can drop them without a word.
 */
export function parseHeader (msg: Uint8Array): StunHeader | undefined {
  if (msg.byteLength < STUN_HEADER_BYTES) return undefined
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength)
  const type = view.getUint16(0)
  if ((type & 0xc000) !== 0) return undefined
  const length = view.getUint16(2)
  if (length % 4 !== 0 || STUN_HEADER_BYTES + length !== msg.byteLength) return undefined
  if (view.getUint32(4) !== STUN_MAGIC_COOKIE) return undefined
  return { type, length, transactionId: msg.slice(8, 20) }
}

/**
 * A Binding request with a random (or the given) 96-bit transaction id. With `padTo`, a
 * SOFTWARE attribute (comprehension-optional, so any server ignores it) fills the request
 * up to that many bytes: burrow's STUN server answers a request at least as large as its
 * response without rate limit, since it then reflects no more bytes than it got.
 */
export function encodeBindingRequest (transactionId: Uint8Array = crypto.getRandomValues(new Uint8Array(12)), padTo = 0): Uint8Array {
  if (transactionId.byteLength !== 12) throw new RangeError('a STUN transaction id is 12 bytes')
  const padding = padTo > STUN_HEADER_BYTES + 4 ? attribute(ATTR_SOFTWARE, new TextEncoder().encode('burrow'.padEnd(Math.ceil((padTo - STUN_HEADER_BYTES - 4) / 4) * 4, ' '))) : new Uint8Array(0)
  const msg = new Uint8Array(STUN_HEADER_BYTES + padding.byteLength)
  const view = new DataView(msg.buffer)
  view.setUint16(0, BINDING_REQUEST)
  view.setUint16(2, padding.byteLength)
  view.setUint32(4, STUN_MAGIC_COOKIE)
  msg.set(transactionId, 8)
  msg.set(padding, STUN_HEADER_BYTES)
  return msg
}

/**
 * The Binding success response telling the client the address its request came from.
 * `compact`: XOR-MAPPED-ADDRESS alone (all an RFC 5389/8489 client reads), with
 * FINGERPRINT only when `fingerprint` is true: 32 bytes for IPv4, 44 for IPv6.
 */
export function encodeBindingResponse (transactionId: Uint8Array, mapped: StunAddress, software?: string, options: { compact?: boolean, fingerprint?: boolean } = {}): Uint8Array {
  const compact = options.compact === true
  const fingerprint = !compact || options.fingerprint === true
  const attrs: Uint8Array[] = [attribute(ATTR_XOR_MAPPED_ADDRESS, addressValue(mapped, transactionId, true))]
  if (!compact) attrs.push(attribute(ATTR_MAPPED_ADDRESS, addressValue(mapped, transactionId, false)))
  if (!compact && software != null) attrs.push(attribute(ATTR_SOFTWARE, new TextEncoder().encode(software)))
  const bodyLength = attrs.reduce((n, a) => n + a.byteLength, 0) + (fingerprint ? 8 : 0)
  const msg = new Uint8Array(STUN_HEADER_BYTES + bodyLength)
  const view = new DataView(msg.buffer)
  view.setUint16(0, BINDING_SUCCESS)
  view.setUint16(2, bodyLength)
  view.setUint32(4, STUN_MAGIC_COOKIE)
  msg.set(transactionId, 8)
  let off = STUN_HEADER_BYTES
  for (const a of attrs) {
    msg.set(a, off)
    off += a.byteLength
  }
  if (!fingerprint) return msg
  // FINGERPRINT: CRC-32 of everything before it (length already counting it), XOR 0x5354554e
  view.setUint16(off, ATTR_FINGERPRINT)
  view.setUint16(off + 2, 4)
  view.setUint32(off + 4, (crc32(msg.subarray(0, off)) ^ FINGERPRINT_XOR) >>> 0)
  return msg
}

/** The attributes of a message, by type (the first of each type). */
export function parseAttributes (msg: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>()
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength)
  let off = STUN_HEADER_BYTES
  while (off + 4 <= msg.byteLength) {
    const type = view.getUint16(off)
    const len = view.getUint16(off + 2)
    if (off + 4 + len > msg.byteLength) break
    if (!out.has(type)) out.set(type, msg.slice(off + 4, off + 4 + len))
    off += 4 + Math.ceil(len / 4) * 4
  }
  return out
}

/** Whether the message ends in a FINGERPRINT attribute (RFC 5389 §15.5: it is always last). */
export function hasFingerprint (msg: Uint8Array): boolean {
  if (msg.byteLength < STUN_HEADER_BYTES + 8) return false
  return new DataView(msg.buffer, msg.byteOffset, msg.byteLength).getUint16(msg.byteLength - 8) === ATTR_FINGERPRINT
}

/** Whether the FINGERPRINT attribute (if any) matches; true when there is none. */
export function fingerprintOk (msg: Uint8Array): boolean {
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength)
  if (msg.byteLength < STUN_HEADER_BYTES + 8) return true
  const off = msg.byteLength - 8
  if (view.getUint16(off) !== ATTR_FINGERPRINT) return true
  return view.getUint32(off + 4) === ((crc32(msg.subarray(0, off)) ^ FINGERPRINT_XOR) >>> 0)
}

/** Decodes XOR-MAPPED-ADDRESS (xored: true) or MAPPED-ADDRESS from an attribute value. */
export function decodeAddress (value: Uint8Array, transactionId: Uint8Array, xored: boolean): StunAddress | undefined {
  if (value.byteLength < 8) return undefined
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength)
  const family = view.getUint8(1)
  const port = view.getUint16(2) ^ (xored ? STUN_MAGIC_COOKIE >>> 16 : 0)
  const raw = value.slice(4)
  if (xored) {
    const mask = xorMask(transactionId)
    for (let i = 0; i < raw.byteLength; i++) raw[i] = (raw[i] ?? 0) ^ (mask[i] ?? 0)
  }
  if (family === FAMILY_IPV4 && raw.byteLength === 4) return { address: [...raw].join('.'), port }
  if (family === FAMILY_IPV6 && raw.byteLength === 16) {
    const groups: string[] = []
    for (let i = 0; i < 16; i += 2) groups.push((((raw[i] ?? 0) << 8) | (raw[i + 1] ?? 0)).toString(16))
    return { address: groups.join(':'), port }
  }
  return undefined
}

/** The mapped address a Binding success response carries (XOR-MAPPED-ADDRESS preferred). */
export function mappedAddressOf (msg: Uint8Array): StunAddress | undefined {
  const header = parseHeader(msg)
  if (header?.type !== BINDING_SUCCESS) return undefined
  const attrs = parseAttributes(msg)
  const xor = attrs.get(ATTR_XOR_MAPPED_ADDRESS)
  if (xor != null) return decodeAddress(xor, header.transactionId, true)
  const plain = attrs.get(ATTR_MAPPED_ADDRESS)
  return plain != null ? decodeAddress(plain, header.transactionId, false) : undefined
}

function attribute (type: number, value: Uint8Array): Uint8Array {
  const padded = Math.ceil(value.byteLength / 4) * 4
  const out = new Uint8Array(4 + padded)
  const view = new DataView(out.buffer)
  view.setUint16(0, type)
  view.setUint16(2, value.byteLength)
  out.set(value, 4)
  return out
}

/** Magic cookie followed by the transaction id: the XOR mask for an address. */
function xorMask (transactionId: Uint8Array): Uint8Array {
  const mask = new Uint8Array(16)
  new DataView(mask.buffer).setUint32(0, STUN_MAGIC_COOKIE)
  mask.set(transactionId, 4)
  return mask
}

function addressValue (a: StunAddress, transactionId: Uint8Array, xored: boolean): Uint8Array {
  let bytes: Uint8Array
  let family: number
  const address = a.address.startsWith('::ffff:') && isIPv4(a.address.slice(7)) ? a.address.slice(7) : a.address
  if (isIPv4(address)) {
    family = FAMILY_IPV4
    bytes = Uint8Array.from(address.split('.').map(Number))
  } else if (isIPv6(address)) {
    family = FAMILY_IPV6
    bytes = ipv6Bytes(address)
  } else {
    throw new RangeError(`not an IP address: ${a.address}`)
  }
  if (xored) {
    const mask = xorMask(transactionId)
    bytes = bytes.map((b, i) => b ^ (mask[i] ?? 0))
  }
  const out = new Uint8Array(4 + bytes.byteLength)
  const view = new DataView(out.buffer)
  view.setUint8(1, family)
  view.setUint16(2, xored ? a.port ^ (STUN_MAGIC_COOKIE >>> 16) : a.port)
  out.set(bytes, 4)
  return out
}

export function ipv6Bytes (address: string): Uint8Array {
  const zone = address.indexOf('%')
  const addr = zone >= 0 ? address.slice(0, zone) : address
  const [head = '', tail = ''] = addr.split('::')
  const parse = (s: string): number[] => s === '' ? [] : s.split(':').map(g => parseInt(g, 16))
  const h = parse(head)
  const t = addr.includes('::') ? parse(tail) : []
  const groups = addr.includes('::') ? [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t] : h
  const out = new Uint8Array(16)
  groups.forEach((g, i) => { out[2 * i] = (g >> 8) & 0xff; out[2 * i + 1] = g & 0xff })
  return out
}
