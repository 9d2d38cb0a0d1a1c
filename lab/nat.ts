/**
 * nftables rulesets for lab routers. One table, `inet filter`, holds everything, because
 * miniupnpd (nftables backend) adds its rules to chains named `miniupnpd`,
 * `prerouting_miniupnpd` and `postrouting_miniupnpd` in that table by default, and a packet
 * must pass every forward base chain: one table keeps a single firewall verdict.
 *
 * NAT kinds (facts from Linux netfilter):
 * - `none`: DMZ. The first LAN host gets the WAN address 1:1 (`snat` keeps ports, `dnat`
 *   sends everything inbound to it); other LAN hosts share it as behind `cone`.
 * - `cone`: endpoint-independent mapping, `masquerade persistent`: the kernel keeps the
 *   source port whenever the tuple is free, so one inside port maps to one outside port for
 *   every destination.
 * - `symmetric`: endpoint-dependent mapping, `masquerade random`: a new outside port per
 *   destination.
 * Every router runs a stateful firewall: from the WAN only `ct state established,related`,
 * what a port mapping (miniupnpd's `miniupnpd` chain) or the DMZ opens, and ICMP echo to
 * the router itself.
 */
import { NATPMP_PORT } from './constants.js'

export type NatKind = 'none' | 'cone' | 'symmetric'

export const NAT_KINDS: readonly NatKind[] = ['none', 'cone', 'symmetric']

export interface RulesetInit {
  nat: NatKind
  wan: string
  lan: string
  wanIp: string
  lanSubnet: string
  /** the DMZ host when nat is 'none' */
  dmzHost?: string
  /** let LAN hosts reach DMZ/forwarded ports through the WAN address */
  hairpin: boolean
  /** drop NAT-PMP (version 0) or PCP (version 2) requests on the LAN, to offer only the other */
  dropPortMapVersion?: 0 | 2
  /** static port forwards: outside port → inside host:port */
  forwards: PortForward[]
}

export interface PortForward {
  protocol: 'tcp' | 'udp'
  externalPort: number
  internalIp: string
  internalPort: number
}

/**
 * The ruleset for a router, for `nft -f -`. With `fresh`, it replaces the table; otherwise it
 * rewrites only the lab's own chains and leaves miniupnpd's chains (the live mappings) alone.
 */
export function routerRuleset (init: RulesetInit, fresh: boolean): string {
  const { wan, lan, wanIp, lanSubnet } = init
  const q = (s: string): string => `"${s}"`
  const input = [
    `iifname ${q(wan)} ct state established,related accept`,
    `iifname ${q(wan)} icmp type echo-request accept`,
    `iifname ${q(wan)} drop`
  ]
  if (init.dropPortMapVersion !== undefined) {
    // first byte of the UDP payload (bits 64..71 after the transport header start) is the version
    input.push(`iifname ${q(lan)} udp dport ${NATPMP_PORT} @th,64,8 ${init.dropPortMapVersion} drop`)
  }
  const forward = [
    'ct state established,related accept',
    'ct state invalid drop',
    `iifname ${q(lan)} accept`,
    `iifname ${q(wan)} ct status dnat jump lab_forwards`,
    'jump miniupnpd'
  ]
  const prerouting = ['jump prerouting_miniupnpd']
  const postrouting = ['jump postrouting_miniupnpd']
  const forwards = ['ct status dnat accept']

  for (const f of init.forwards) {
    prerouting.push(`iifname ${q(wan)} ip daddr ${wanIp} ${f.protocol} dport ${f.externalPort} dnat ip to ${f.internalIp}:${f.internalPort}`)
    if (init.hairpin) {
      prerouting.push(`iifname ${q(lan)} ip daddr ${wanIp} ${f.protocol} dport ${f.externalPort} dnat ip to ${f.internalIp}:${f.internalPort}`)
    }
  }
  if (init.nat === 'none' && init.dmzHost !== undefined) {
    prerouting.push(`iifname ${q(wan)} ip daddr ${wanIp} dnat ip to ${init.dmzHost}`)
    if (init.hairpin) {
      prerouting.push(`iifname ${q(lan)} ip daddr ${wanIp} fib daddr type local dnat ip to ${init.dmzHost}`)
    }
    postrouting.push(`oifname ${q(wan)} ip saddr ${init.dmzHost} snat ip to ${wanIp}`)
  }
  if (init.hairpin) {
    // hairpinned packets come back out of the LAN: hide the inside sender behind the router
    postrouting.push(`oifname ${q(lan)} ip saddr ${lanSubnet} ct status dnat masquerade`)
  }
  if (init.nat === 'symmetric') {
    postrouting.push(`oifname ${q(wan)} ip saddr ${lanSubnet} masquerade random`)
  } else {
    postrouting.push(`oifname ${q(wan)} ip saddr ${lanSubnet} masquerade persistent`)
  }

  const chain = (name: string, hook: string | undefined, rules: string[]): string => [
    `  chain ${name} {`,
    ...(hook !== undefined ? [`    ${hook}`] : []),
    ...rules.map(r => `    ${r}`),
    '  }'
  ].join('\n')

  const own = ['input', 'forward', 'lab_forwards', 'prerouting', 'postrouting']
  return [
    ...(fresh
      ? ['table inet filter', 'delete table inet filter']
      : own.map(c => `flush chain inet filter ${c}`)),
    'table inet filter {',
    chain('input', 'type filter hook input priority 0; policy accept;', input),
    chain('forward', 'type filter hook forward priority 0; policy drop;', forward),
    chain('lab_forwards', undefined, forwards),
    chain('miniupnpd', undefined, []),
    chain('prerouting', 'type nat hook prerouting priority -100; policy accept;', prerouting),
    chain('postrouting', 'type nat hook postrouting priority 100; policy accept;', postrouting),
    chain('prerouting_miniupnpd', undefined, []),
    chain('postrouting_miniupnpd', undefined, []),
    '}',
    ''
  ].join('\n')
}

/** Empties miniupnpd's chains: what a router reboot does to its port mappings. */
export function flushMiniupnpdChains (): string {
  return [
    'flush chain inet filter miniupnpd',
    'flush chain inet filter prerouting_miniupnpd',
    'flush chain inet filter postrouting_miniupnpd',
    ''
  ].join('\n')
}
