/**
 * miniupnpd (2.3.x, nftables backend) as the home router's port-mapping service: UPnP IGD,
 * NAT-PMP and PCP. NAT-PMP and PCP share one switch in miniupnpd (`enable_natpmp`) and UDP
 * 5351; to offer only one, the router drops the other's version byte (see nat.ts).
 * It adds its rules to the `miniupnpd`, `prerouting_miniupnpd` and `postrouting_miniupnpd`
 * chains of `table inet filter`, which the router's ruleset creates beforehand.
 */
import { randomUUID } from 'node:crypto'

export interface PortMappingInit {
  /** UPnP IGD (SSDP + SOAP); default true */
  upnp?: boolean
  /** NAT-PMP (RFC 6886); default true */
  natpmp?: boolean
  /** PCP (RFC 6887); default true */
  pcp?: boolean
}

export interface MiniupnpdConfigInit {
  wan: string
  lan: string
  lanSubnet: string
  upnp: boolean
  /** NAT-PMP or PCP (the same switch in miniupnpd) */
  natpmpOrPcp: boolean
  leaseFile: string
}

export function miniupnpdConfig (init: MiniupnpdConfigInit): string {
  return [
    `ext_ifname=${init.wan}`,
    `listening_ip=${init.lan}`,
    'port=0',
    `enable_upnp=${init.upnp ? 'yes' : 'no'}`,
    `enable_natpmp=${init.natpmpOrPcp ? 'yes' : 'no'}`,
    'secure_mode=yes',
    'system_uptime=yes',
    'notify_interval=30',
    'clean_ruleset_interval=600',
    `lease_file=${init.leaseFile}`,
    `uuid=${randomUUID()}`,
    'friendly_name=burrow lab router',
    'upnp_table_name=filter',
    'upnp_nat_table_name=filter',
    'upnp_forward_chain=miniupnpd',
    'upnp_nat_chain=prerouting_miniupnpd',
    'upnp_nat_postrouting_chain=postrouting_miniupnpd',
    `allow 1024-65535 ${init.lanSubnet} 1024-65535`,
    'deny 0-65535 0.0.0.0/0 0-65535',
    ''
  ].join('\n')
}
