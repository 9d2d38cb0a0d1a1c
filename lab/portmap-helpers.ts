/**
 * What a lab router's miniupnpd has mapped, read from its nftables chain (the ground truth for
 * UPnP, NAT-PMP and PCP alike; `upnpc -l` lists nothing when UPnP is switched off).
 */
import type { Router } from './topology.js'

export interface RouterMapping {
  protocol: 'tcp' | 'udp'
  externalPort: number
  internalIp: string
  internalPort: number
}

/**
 * Parses `nft list chain inet filter prerouting_miniupnpd` rules; miniupnpd 2.3 writes the
 * protocol as the IPv4 header's protocol byte: `iif "x" @nh,72,8 0x6 th dport 4001 dnat ip to 192.168.1.10:4001`
 * (older ones `tcp dport 4001 ...`).
 */
export function parseMiniupnpdChain (text: string): RouterMapping[] {
  const out: RouterMapping[] = []
  for (const m of text.matchAll(/(?:\b(tcp|udp)|@nh,72,8 (0x6|0x11)) (?:th )?dport (\d+) .*?dnat (?:ip )?to ([\d.]+):(\d+)/g)) {
    const protocol = m[1] === 'udp' || m[2] === '0x11' ? 'udp' : 'tcp'
    out.push({ protocol, externalPort: Number(m[3]), internalIp: m[4] ?? '', internalPort: Number(m[5]) })
  }
  return out
}

/** The router's current port mappings (any protocol), from its nftables rules. */
export async function routerMappings (router: Router): Promise<RouterMapping[]> {
  const r = await router.exec('nft', ['list', 'chain', 'inet', 'filter', 'prerouting_miniupnpd'], { allowFailure: true })
  return parseMiniupnpdChain(r.stdout)
}
