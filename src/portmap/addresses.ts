/**
 * What kind of address a gateway reports as its external one. Only a public address can be
 * announced; a private or carrier-grade one means another NAT sits upstream (double NAT).
 */
import { readFile } from 'node:fs/promises'
import { isIPv4 } from 'node:net'
import { NoGatewayError } from './errors.js'

export type AddressKind = 'public' | 'private' | 'carrier-grade' | 'unspecified' | 'loopback' | 'link-local' | 'invalid'

function octets (ip: string): number[] | undefined {
  if (!isIPv4(ip)) return undefined
  return ip.split('.').map(Number)
}

/** RFC 1918 private, RFC 6598 shared (100.64/10), loopback, link-local, 0.0.0.0; the rest is public. */
export function classifyIPv4 (ip: string): AddressKind {
  const o = octets(ip)
  if (o == null) return 'invalid'
  const [a = 0, b = 0] = o
  if (o.every(x => x === 0)) return 'unspecified'
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private'
  if (a === 100 && b >= 64 && b <= 127) return 'carrier-grade'
  if (a === 127) return 'loopback'
  if (a === 169 && b === 254) return 'link-local'
  if (a === 0 || a >= 224) return 'invalid'
  return 'public'
}

/**
 * A mapping's external address as a multiaddr string. A gateway that mapped the port but
 * reports no external address of its own (UPnP's GetExternalIPAddress answering "", as
 * miniupnpd does behind a carrier-grade NAT) gives `/ip4/0.0.0.0/...`: the port is known,
 * the address is not.
 */
export function externalMultiaddr (m: { externalIp: string, transport: string, externalPort: number }): string {
  return `/ip4/${m.externalIp === '' ? '0.0.0.0' : m.externalIp}/${m.transport}/${m.externalPort}`
}

/** The default IPv4 gateway from a /proc/net/route table (Linux), or undefined. */
export function parseProcNetRoute (text: string): string | undefined {
  for (const line of text.split('\n').slice(1)) {
    const [, destination, gateway, flags] = line.trim().split(/\s+/)
    if (destination !== '00000000' || gateway == null || flags == null) continue
    // RTF_UP | RTF_GATEWAY
    if ((parseInt(flags, 16) & 0x3) !== 0x3) continue
    const n = parseInt(gateway, 16)
    // the kernel prints the address in host (little-endian) byte order
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.')
  }
  return undefined
}

/** The default IPv4 gateway of this host: NAT-PMP and PCP ask it (RFC 6886 §3, RFC 6887 §8.1). */
export async function defaultGateway (): Promise<string> {
  let text: string
  try {
    text = await readFile('/proc/net/route', 'utf8')
  } catch (err) {
    throw new NoGatewayError('cannot read the routing table (/proc/net/route); set the gateway in config', { cause: err })
  }
  const gw = parseProcNetRoute(text)
  if (gw == null) throw new NoGatewayError('no default IPv4 route')
  return gw
}
