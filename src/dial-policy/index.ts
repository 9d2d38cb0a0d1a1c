/**
 * The one dial policy: which addresses burrow dials, for whom.
 *
 * - Addresses the user names (`--bootstrap`, `burrow dial MULTIADDR`) and addresses
 *   learned from the network pass the connection gater (`denyDial`): never an
 *   unspecified, multicast, broadcast, reserved or IPv4-mapped/compatible IPv6 form (none
 *   of them names a remote host; `0.0.0.0`, `::` and `::ffff:127.0.0.1` reach our own
 *   listeners), and private ranges only as `dialPrivateAddresses` allows.
 * - Addresses a peer hands us to dial for it (a DCUtR CONNECT) pass the stricter
 *   `peerSuppliedRefusal` as well: never loopback or link-local, private ranges only on
 *   one of our own subnets and only where the policy allows private dials at all (never
 *   on amino), whatever `dialPrivateAddresses` says — a peer behind another router can
 *   never be punched through its LAN address, so such a dial only probes someone's LAN.
 *
 * @see docs/DESIGN.md, Security rules
 */
import { isIPv4, isIPv6 } from 'node:net'
import { networkInterfaces } from 'node:os'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Which private addresses learned from others may be dialled. */
export type PrivatePolicy = 'all' | 'none' | 'local-subnets'

export type IpClass =
  | 'unspecified' | 'loopback' | 'link-local' | 'multicast' | 'broadcast' | 'reserved'
  | 'ipv4-mapped' | 'private' | 'public' | 'invalid'

/** Classes that never name a remote host we may dial, whoever asks. */
const NEVER: ReadonlySet<IpClass> = new Set(['unspecified', 'multicast', 'broadcast', 'reserved', 'ipv4-mapped', 'invalid'])

/**
 * 'all' ('on'), 'none' ('off', and 'auto' on amino: a public DHT must never become a way
 * into someone's LAN), or 'local-subnets' ('auto' on own swarms: peers on one of our own
 * LANs are reachable, other LANs behind other routers are not).
 */
export function privateDialPolicy (config: { dialPrivateAddresses: string, network: string }): PrivatePolicy {
  if (config.dialPrivateAddresses === 'on') return 'all'
  if (config.dialPrivateAddresses === 'off') return 'none'
  return config.network === 'amino' ? 'none' : 'local-subnets'
}

/** The IP of an `/ip4|ip6/…` multiaddr, or undefined for other (DNS, unix, …) addresses. */
export function ipOf (ma: Multiaddr): { family: 4 | 6, ip: string } | undefined {
  const first = ma.getComponents()[0]
  if (first?.value == null) return undefined
  if (first.name === 'ip4') return { family: 4, ip: first.value }
  if (first.name === 'ip6') return { family: 6, ip: first.value }
  return undefined
}

/** 4 or 16 bytes of an IP address in any textual form Node accepts, or undefined. */
export function ipBytes (ip: string): Uint8Array | undefined {
  const s = ip.replace(/%.*$/, '')
  if (isIPv4(s)) return Uint8Array.from(s.split('.').map(Number))
  if (!isIPv6(s)) return undefined
  let text = s
  const out = new Uint8Array(16)
  // a trailing dotted quad (::ffff:1.2.3.4) is the last 32 bits
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  let tail: number[] = []
  if (quad?.[1] != null) {
    tail = quad[1].split('.').map(Number)
    text = text.slice(0, -quad[1].length) + '0:0'
  }
  const [head, rest] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined]
  const left = head === '' ? [] : head.split(':')
  const right = rest == null || rest === '' ? [] : rest.split(':')
  const groups = rest == null ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right]
  if (groups.length !== 8) return undefined
  groups.forEach((g, i) => {
    const v = parseInt(g, 16)
    out[i * 2] = v >> 8
    out[i * 2 + 1] = v & 0xff
  })
  if (tail.length === 4) out.set(tail, 12)
  return out
}

/** What kind of address an IP is (RFC 6890 special-purpose registries, the parts that matter for dialling). */
export function classifyIp (ip: string): IpClass {
  const b = ipBytes(ip)
  if (b == null) return 'invalid'
  return b.length === 4 ? classifyV4(b) : classifyV6(b)
}

function classifyV4 (b: Uint8Array): IpClass {
  const [o0 = 0, o1 = 0, o2 = 0, o3 = 0] = b
  if (o0 === 0) return 'unspecified' // 0.0.0.0/8 "this network": Linux connects it to ourselves
  if (o0 === 127) return 'loopback'
  if (o0 === 169 && o1 === 254) return 'link-local'
  if (o0 >= 224 && o0 <= 239) return 'multicast'
  if (o0 === 255 && o1 === 255 && o2 === 255 && o3 === 255) return 'broadcast'
  if (o0 >= 240) return 'reserved'
  if (o0 === 10 || (o0 === 172 && o1 >= 16 && o1 <= 31) || (o0 === 192 && o1 === 168)) return 'private'
  if (o0 === 100 && o1 >= 64 && o1 <= 127) return 'private' // RFC 6598 shared address space (CGNAT)
  return 'public'
}

function classifyV6 (b: Uint8Array): IpClass {
  const zeros = (from: number, to: number): boolean => b.subarray(from, to).every(x => x === 0)
  if (zeros(0, 16)) return 'unspecified'
  if (zeros(0, 15) && b[15] === 1) return 'loopback'
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return 'ipv4-mapped' // ::ffff:0:0/96
  if (zeros(0, 12)) return 'ipv4-mapped' // ::/96, IPv4-compatible (deprecated, RFC 4291 §2.5.5.1)
  const b0 = b[0] ?? 0
  const b1 = b[1] ?? 0
  if (b0 === 0xff) return 'multicast'
  if (b0 === 0xfe && (b1 & 0xc0) === 0x80) return 'link-local'
  if ((b0 & 0xfe) === 0xfc) return 'private' // fc00::/7 unique local
  if (b0 === 0xfe && (b1 & 0xc0) === 0xc0) return 'private' // fec0::/10, deprecated site-local
  return 'public'
}

/** Whether an IP is on the subnet of one of our interfaces (loopback included). */
export function onLocalSubnet (ip: string): boolean {
  const target = ipBytes(ip)
  if (target == null) return false
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) {
      const addr = ipBytes(i.address)
      const mask = ipBytes(i.netmask)
      if (addr == null || mask == null || addr.length !== target.length || mask.length !== target.length) continue
      if (addr.every((x, k) => (x & (mask[k] ?? 0)) === ((target[k] ?? 0) & (mask[k] ?? 0)))) return true
    }
  }
  return false
}

/**
 * The connection gater's rule (every dial: user-named and learned addresses alike).
 * True when the address may not be dialled.
 */
export function denyDial (ma: Multiaddr, policy: PrivatePolicy): boolean {
  const ip = ipOf(ma)
  if (ip == null) return false
  const kind = classifyIp(ip.ip)
  if (NEVER.has(kind)) return true
  if (kind === 'public' || policy === 'all') return false
  if (policy === 'none') return true
  return !onLocalSubnet(ip.ip)
}

/**
 * Why an address a peer asked us to dial for it is refused, or undefined when it may be
 * dialled. Stricter than the gater: see the module comment.
 */
export function peerSuppliedRefusal (ma: Multiaddr, policy: PrivatePolicy): string | undefined {
  const ip = ipOf(ma)
  if (ip == null) return 'not an IP address'
  const kind = classifyIp(ip.ip)
  if (kind === 'public') return undefined
  if (kind !== 'private') return `${kind} address`
  if (policy === 'none') return 'private address (dialPrivateAddresses does not allow it here)'
  if (!onLocalSubnet(ip.ip)) return 'private address on none of our subnets'
  return undefined
}

/**
 * Addresses the user named (`--bootstrap`, `burrow dial MULTIADDR`): dialled even when
 * private, since the user chose them (kubo and Tailscale dial what they are told to);
 * addresses learned from the network keep the private-address policy. Keyed by the
 * transport part (`ip4/127.0.0.1/tcp/4001`), so the same host:port behind a `/p2p/…` or a
 * relay circuit matches.
 */
export class NamedAddresses {
  private readonly keys = new Set<string>()

  add (ma: Multiaddr): void {
    const k = transportKey(ma)
    if (k != null) this.keys.add(k)
  }

  has (ma: Multiaddr): boolean {
    const k = transportKey(ma)
    return k != null && this.keys.has(k)
  }
}

function transportKey (ma: Multiaddr): string | undefined {
  const [ip, transport] = ma.getComponents()
  if (ip?.value == null || transport?.value == null || (ip.name !== 'ip4' && ip.name !== 'ip6')) return undefined
  const bytes = ipBytes(ip.value)
  return bytes == null ? undefined : `${[...bytes].join('.')}/${transport.name}/${transport.value}`
}

/**
 * The gater's rule with the user's own choices: a named address passes unless it names no
 * remote host at all (`0.0.0.0`, `::`, multicast, IPv4-mapped forms).
 */
export function denyDialUnlessNamed (ma: Multiaddr, policy: PrivatePolicy, named: NamedAddresses): boolean {
  if (named.has(ma)) {
    const ip = ipOf(ma)
    return ip != null && NEVER.has(classifyIp(ip.ip))
  }
  return denyDial(ma, policy)
}

/**
 * What a node announces on a public network (amino): only addresses others can use —
 * public IPs, names, and circuits through public relays; never loopback, link-local,
 * unique-local or other private addresses, which would only send strangers' dials into
 * their own LANs. Own swarms and LAN-only mode announce their private addresses too; an
 * address the user gave with `--announce` is announced as given.
 */
export function publicAddressFilter (addrs: Multiaddr[], named: string[] = []): Multiaddr[] {
  return addrs.filter(a => {
    if (named.includes(a.toString())) return true // the user's own --announce
    const ip = ipOf(a)
    return ip == null || classifyIp(ip.ip) === 'public'
  })
}

/**
 * Whether a dial would reach one of our own listeners: the address is a loopback or one of
 * our interfaces' IPs (or an unspecified listen address covers it) on a port we listen on.
 * In a lab or on one host, a peer's announced `127.0.0.1:4001` is our own `0.0.0.0:4001` (and
 * so is the first hop of a circuit through a relay announced at that address).
 */
export function isOwnListenAddress (ma: Multiaddr, listening: Multiaddr[]): boolean {
  const target = ma.getComponents()
  const ip = target[0]
  const port = target[1]
  if (ip?.value == null || port?.value == null || (ip.name !== 'ip4' && ip.name !== 'ip6') || port.name !== 'tcp') return false
  // ports first: only a dial to one of our listen ports needs the interface list
  const onOurPort = listening.filter(l => { const c = l.getComponents(); return c[1]?.name === 'tcp' && c[1]?.value === port.value })
  if (onOurPort.length === 0) return false
  const kind = classifyIp(ip.value)
  const local = kind === 'loopback' || localAddresses().has(ip.value)
  if (!local) return false
  return onOurPort.some(l => {
    const c = l.getComponents()
    return c[1]?.name === 'tcp' && c[1]?.value === port.value && (c[0]?.value === ip.value || classifyIp(c[0]?.value ?? '') === 'unspecified' || (kind === 'loopback' && classifyIp(c[0]?.value ?? '') === 'loopback'))
  })
}

function localAddresses (): Set<string> {
  const out = new Set<string>()
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) out.add(i.address)
  return out
}

