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

/** Parses `nft list chain inet filter prerouting_miniupnpd` rules like `iif "x" tcp dport 4001 dnat ip to 192.168.1.10:4001`. */
export function parseMiniupnpdChain (text: string): RouterMapping[] {
  const out: RouterMapping[] = []
  for (const m of text.matchAll(/\b(tcp|udp) dport (\d+) .*?dnat (?:ip )?to ([\d.]+):(\d+)/g)) {
    out.push({ protocol: m[1] as 'tcp' | 'udp', externalPort: Number(m[2]), internalIp: m[3] ?? '', internalPort: Number(m[4]) })
  }
  return out
}

/** The router's current port mappings (any protocol), from its nftables rules. */
export async function routerMappings (router: Router): Promise<RouterMapping[]> {
  const r = await router.exec('nft', ['list', 'chain', 'inet', 'filter', 'prerouting_miniupnpd'], { allowFailure: true })
  return parseMiniupnpdChain(r.stdout)
}
