/**
 * miniupnpd (2.3.x, nftables backend) as the home router's port-mapping service: UPnP IGD,
 * NAT-PMP and PCP. NAT-PMP and PCP share one switch in miniupnpd (`enable_natpmp`) and UDP
 * 5351; to offer only one, the router drops the other's version byte (see nat.ts).
 * It adds its rules to the `miniupnpd`, `prerouting_miniupnpd` and `postrouting_miniupnpd`
 * chains of `table inet filter`, which the router's ruleset creates beforehand.
 *
 * Behind a carrier-grade NAT the router's WAN address is 100.64/10. miniupnpd 2.3.1 (Debian
 * bookworm's) then refuses every mapping ("Port forwarding is impossible"), as OpenWrt does by
 * default; many consumer routers map anyway. `privateWan: 'map'` gives the second kind: a
 * miniupnpd 2.3.9 built by scripts/build-miniupnpd.sh, run with `ext_allow_private_ipv4=yes`.
 */
import { randomUUID } from 'node:crypto'
import { accessSync, constants } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { LabToolMissingError } from './errors.js'

export interface PortMappingInit {
  /** UPnP IGD (SSDP + SOAP); default true */
  upnp?: boolean
  /** NAT-PMP (RFC 6886); default true */
  natpmp?: boolean
  /** PCP (RFC 6887); default true */
  pcp?: boolean
  /**
   * What the router does when its own WAN address is private or 100.64/10 (behind a CGNAT):
   * 'refuse' every mapping (miniupnpd's default), or 'map' anyway. Default 'refuse'.
   */
  privateWan?: 'refuse' | 'map'
  /**
   * The external address the router reports (miniupnpd's `ext_ip`) instead of its WAN
   * address: a router that lies, or one behind a NAT it does not know about. Default: none.
   */
  extIp?: string
}

/** Where scripts/build-miniupnpd.sh puts the miniupnpd that can map behind a CGNAT. */
export const LAB_TOOLS_DIR = process.env.BURROW_LAB_TOOLS ?? '/usr/local/lib/burrow-lab'
export const PRIVATE_WAN_MINIUPNPD = `${LAB_TOOLS_DIR}/miniupnpd-2.3.9/miniupnpd`

/**
 * The miniupnpd program for a router: the system's one, or, for `privateWan: 'map'`, one that
 * knows `ext_allow_private_ipv4` (2.3.4 and later): BURROW_LAB_MINIUPNPD, the build of
 * scripts/build-miniupnpd.sh, or the system's own when it is new enough.
 */
export function miniupnpdProgram (privateWan: 'refuse' | 'map' = 'refuse'): string {
  if (privateWan === 'refuse') return 'miniupnpd'
  const candidates = [process.env.BURROW_LAB_MINIUPNPD, PRIVATE_WAN_MINIUPNPD, 'miniupnpd']
  for (const c of candidates) {
    if (c === undefined || c === '') continue
    if (c.includes('/')) {
      try { accessSync(c, constants.X_OK) } catch { continue }
    }
    if (allowsPrivateWan(c)) return c
  }
  throw new LabToolMissingError('miniupnpd>=2.3.4',
    `a router that maps behind a carrier-grade NAT needs miniupnpd 2.3.4 or later (ext_allow_private_ipv4); run .ci/run as root (or scripts/build-miniupnpd.sh after its packages) to build it into ${PRIVATE_WAN_MINIUPNPD}`)
}

/** Whether a miniupnpd binary is 2.3.4 or later (`miniupnpd --version` prints "miniupnpd 2.3.9 ..."). */
function allowsPrivateWan (program: string): boolean {
  const r = spawnSync(program, ['--version'], { encoding: 'utf8', timeout: 5_000 })
  const m = `${r.stdout ?? ''}${r.stderr ?? ''}`.match(/miniupnpd (\d+)\.(\d+)\.(\d+)/)
  if (m == null) return false
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])]
  return major > 2 || (major === 2 && (minor > 3 || (minor === 3 && patch >= 4)))
}

/** Why a router that maps behind a CGNAT cannot run here, or undefined when it can. */
export function privateWanRouterUnavailableReason (): string | undefined {
  try {
    miniupnpdProgram('map')
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

export interface MiniupnpdConfigInit {
  wan: string
  lan: string
  lanSubnet: string
  upnp: boolean
  /** NAT-PMP or PCP (the same switch in miniupnpd) */
  natpmpOrPcp: boolean
  leaseFile: string
  /** map even when the WAN address is private or 100.64/10 (needs miniupnpd >= 2.3.4) */
  allowPrivateWan?: boolean
  /** report this as the external address (`ext_ip`) */
  extIp?: string
}

export function miniupnpdConfig (init: MiniupnpdConfigInit): string {
  return [
    `ext_ifname=${init.wan}`,
    `listening_ip=${init.lan}`,
    'port=0',
    `enable_upnp=${init.upnp ? 'yes' : 'no'}`,
    `enable_natpmp=${init.natpmpOrPcp ? 'yes' : 'no'}`,
    'secure_mode=yes',
    ...(init.allowPrivateWan === true ? ['ext_allow_private_ipv4=yes'] : []),
    ...(init.extIp !== undefined ? [`ext_ip=${init.extIp}`] : []),
    // no: the epoch NAT-PMP and PCP report restarts with the daemon, as on a rebooted router (RFC 6886 §3.6)
    'system_uptime=no',
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
