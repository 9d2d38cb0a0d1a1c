/**
 * The lab's topology: an "internet" (a bridge in its own namespace, on a public-looking /24
 * that exists only in the lab), public hosts on it, and home networks: a router namespace
 * (WAN on the internet or behind a carrier-grade NAT, a LAN bridge) with hosts behind it.
 * Every namespace and interface is named `brw-<run id>-...`; veths are created with both ends
 * inside lab namespaces, so nothing ever joins the lab to the host's own namespace.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import {
  DELAY_QUEUE_NUM, IFNAME_MAX, INTERNET_FIRST_OCTET, INTERNET_GATEWAY_HOST, KILL_GRACE_MS, LAB_PREFIX,
  LAN_HOST_FIRST, PUBLIC_HOST_FIRST, PUBLIC_HOST_LAST, ROUTER_WAN_FIRST, ROUTER_WAN_LAST, RUN_ID_LENGTH, STATE_DIR
} from './constants.js'
import { flowConnects, parseConntrack } from './conntrack.js'
import { ensureDelayBinary, hasNetem, packageRoot, writableDir } from './delay.js'
import { LabDelayElementError, LabNotRootError, LabToolMissingError, LabTopologyError } from './errors.js'
import { hasTool, nsRun, run } from './exec.js'
import { flushMiniupnpdChains, routerRuleset } from './nat.js'
import { LabProcess, spawnInNamespace } from './process.js'
import { PROBE_SCRIPT } from './probes.js'
import { destroySync, registerForExit, removeRunState, sweepStaleLabs, unregisterForExit, writeRunState } from './state.js'
import { miniupnpdConfig, miniupnpdProgram } from './upnp.js'
import type { Flow } from './conntrack.js'
import type { RunOptions, RunResult } from './exec.js'
import type { NatKind, PortForward } from './nat.js'
import type { SpawnOptions } from './process.js'
import type { PortMappingInit } from './upnp.js'

const log = logger('burrow:lab:topology')

const NAME = /^[a-z][a-z0-9-]{0,19}$/

export interface LabInit {
  /** a label for the log folder (`.lab-logs/<name>-<id>/`); default "lab" */
  name?: string
  /** where process logs go; default `<package root>/.lab-logs/<name>-<id>`, else under os.tmpdir() */
  logDir?: string
  /** remove stale labs of dead runs before building (default true) */
  sweep?: boolean
}

export interface HomeInit {
  /** NAT kind of the home router (default 'cone') */
  nat?: NatKind
  /** number of hosts on the LAN (default 1) */
  hosts?: number
  /** LAN hosts reach the DMZ host and static forwards through the WAN address (default false) */
  hairpin?: boolean
  /** run miniupnpd with these protocols; default: no port mapping service */
  portMapping?: PortMappingInit
  /** a carrier-grade NAT router (from addCgnat) in front of this one: double NAT */
  behind?: Router
  /** one-way delay added to every packet crossing the router's WAN link, each direction */
  delayMs?: number
  /** rate limit of the WAN link, each direction, in Mbit/s */
  rateMbit?: number
}

export interface CgnatInit {
  nat?: NatKind
  delayMs?: number
  rateMbit?: number
}

export interface ConntrackTimeouts {
  /** nf_conntrack_udp_timeout: a UDP flow seen in one direction only */
  udpSeconds?: number
  /** nf_conntrack_udp_timeout_stream: a UDP flow with traffic both ways */
  udpStreamSeconds?: number
  /** nf_conntrack_tcp_timeout_established */
  tcpEstablishedSeconds?: number
}

/** Something commands can run in: a host, a router, or a lab namespace name. */
export type LabTarget = LabHost | Router | string

/** A machine in the lab: on the internet (public) or on a home LAN. */
export class LabHost {
  readonly lab: Lab
  readonly name: string
  readonly ns: string
  readonly iface: string
  readonly ip: string
  /** the router in front of it; undefined for public hosts */
  readonly router: Router | undefined

  constructor (lab: Lab, name: string, ns: string, iface: string, ip: string, router?: Router) {
    this.lab = lab
    this.name = name
    this.ns = ns
    this.iface = iface
    this.ip = ip
    this.router = router
  }

  get isPublic (): boolean {
    return this.router === undefined
  }

  async exec (cmd: string, args: string[], options?: RunOptions): Promise<RunResult> {
    return this.lab.exec(this, cmd, args, options)
  }

  async spawn (cmd: string, args: string[], options?: SpawnOptions): Promise<LabProcess> {
    return this.lab.spawn(this, cmd, args, options)
  }
}

/** A NAT router: a home router (maybe with miniupnpd) or a carrier-grade NAT. */
export class Router {
  readonly lab: Lab
  readonly name: string
  readonly ns: string
  readonly kind: 'home' | 'cgnat'
  readonly nat: NatKind
  readonly wan: string
  readonly lan: string
  /** the router's current public (or, behind a CGNAT, 100.64/10) address */
  wanIp: string
  readonly lanIp: string
  readonly lanSubnet: string
  /** the next hop upstream: the internet gateway, or the CGNAT's LAN address */
  readonly gateway: string
  /** the router in front of this one (double NAT) */
  readonly upstream: Router | undefined
  readonly hosts: LabHost[] = []
  /** routers behind this one (a CGNAT's customers) */
  readonly downstream: Router[] = []
  readonly hairpin: boolean
  readonly forwards: PortForward[] = []
  /** the running miniupnpd, if any */
  miniupnpd: LabProcess | undefined
  portMapping: Required<Omit<PortMappingInit, 'extIp'>> & Pick<PortMappingInit, 'extIp'> | undefined
  delayMs = 0
  rateMbit: number | undefined
  /** ns and name of the other end of the WAN veth (for download shaping) */
  readonly wanPeer: { ns: string, iface: string }
  private delayProcess: LabProcess | undefined
  private nextLanHost = LAN_HOST_FIRST

  constructor (lab: Lab, init: {
    name: string, ns: string, kind: 'home' | 'cgnat', nat: NatKind, wan: string, lan: string, wanIp: string,
    lanIp: string, lanSubnet: string, gateway: string, upstream?: Router, hairpin: boolean, wanPeer: { ns: string, iface: string }
  }) {
    this.lab = lab
    this.name = init.name
    this.ns = init.ns
    this.kind = init.kind
    this.nat = init.nat
    this.wan = init.wan
    this.lan = init.lan
    this.wanIp = init.wanIp
    this.lanIp = init.lanIp
    this.lanSubnet = init.lanSubnet
    this.gateway = init.gateway
    this.upstream = init.upstream
    this.hairpin = init.hairpin
    this.wanPeer = init.wanPeer
  }

  /** @internal next free LAN address */
  allocateLanIp (): string {
    if (this.nextLanHost > 254) throw new LabTopologyError(`no LAN addresses left on ${this.name}`)
    return this.lanSubnet.replace(/\.0\/24$/, `.${this.nextLanHost++}`)
  }

  async exec (cmd: string, args: string[], options?: RunOptions): Promise<RunResult> {
    return this.lab.exec(this, cmd, args, options)
  }

  /** (Re)writes the router's nftables ruleset; without `fresh`, miniupnpd's chains keep their rules. */
  async applyRules (fresh = false): Promise<void> {
    const text = routerRuleset({
      nat: this.nat,
      wan: this.wan,
      lan: this.lan,
      wanIp: this.wanIp,
      lanSubnet: this.lanSubnet,
      dmzHost: this.nat === 'none' ? this.hosts[0]?.ip : undefined,
      hairpin: this.hairpin,
      dropPortMapVersion: this.portMapping === undefined || (this.portMapping.natpmp === this.portMapping.pcp)
        ? undefined
        : (this.portMapping.natpmp ? 2 : 0),
      forwards: this.forwards
    }, fresh)
    await nsRun(this.ns, 'nft', ['-f', '-'], { input: text })
  }

  /** A static port forward (what a user sets up by hand in a router's web UI). */
  async forwardPort (forward: PortForward): Promise<void> {
    this.forwards.push(forward)
    await this.applyRules()
  }

  /** One-way delay on every packet crossing the WAN link, in each direction (0 removes it). */
  async setDelay (ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw new LabTopologyError(`bad delay ${ms}`)
    this.delayMs = ms
    if (await hasNetem(this.ns)) {
      await this.applyQdiscs()
      return
    }
    for (const chain of ['PREROUTING', 'POSTROUTING']) {
      await nsRun(this.ns, 'iptables', ['-w', '-t', 'mangle', '-F', chain])
    }
    if (this.delayProcess !== undefined) {
      await this.delayProcess.stop()
      this.delayProcess = undefined
    }
    if (ms === 0) return
    const binary = await ensureDelayBinary()
    const proc = await this.lab.spawn(this, binary, [String(DELAY_QUEUE_NUM), String(Math.round(ms * 1000))], { logName: `${this.name}-delay` })
    try {
      await proc.waitForOutput(/delay: queue/, 5000)
    } catch (err) {
      throw new LabDelayElementError(`delay element did not start on ${this.name}`, { cause: err })
    }
    this.delayProcess = proc
    const q = ['-j', 'NFQUEUE', '--queue-num', String(DELAY_QUEUE_NUM), '--queue-bypass']
    await nsRun(this.ns, 'iptables', ['-w', '-t', 'mangle', '-A', 'PREROUTING', '-i', this.wan, ...q])
    await nsRun(this.ns, 'iptables', ['-w', '-t', 'mangle', '-A', 'POSTROUTING', '-o', this.wan, ...q])
  }

  /** Rate limit of the WAN link in each direction, Mbit/s (undefined removes it). */
  async setRate (mbit: number | undefined): Promise<void> {
    if (mbit !== undefined && (!Number.isFinite(mbit) || mbit <= 0)) throw new LabTopologyError(`bad rate ${mbit}`)
    this.rateMbit = mbit
    await this.applyQdiscs()
  }

  private async applyQdiscs (): Promise<void> {
    const netem = await hasNetem(this.ns)
    for (const [ns, dev] of [[this.ns, this.wan], [this.wanPeer.ns, this.wanPeer.iface]] as const) {
      await nsRun(ns, 'tc', ['qdisc', 'del', 'dev', dev, 'root'], { allowFailure: true })
      if (netem && (this.delayMs > 0 || this.rateMbit !== undefined)) {
        const args = ['qdisc', 'add', 'dev', dev, 'root', 'netem', 'limit', '100000']
        if (this.delayMs > 0) args.push('delay', `${this.delayMs}ms`)
        if (this.rateMbit !== undefined) args.push('rate', `${this.rateMbit}mbit`)
        await nsRun(ns, 'tc', args)
      } else if (this.rateMbit !== undefined) {
        // burst must cover at least one timer tick of traffic at this rate
        const burstKbit = Math.max(32, Math.ceil(this.rateMbit * 1000 / 250))
        await nsRun(ns, 'tc', ['qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${this.rateMbit}mbit`, 'burst', `${burstKbit}kbit`, 'latency', '400ms'])
      }
    }
  }

  /** Shortens (or lengthens) how long the router keeps idle NAT mappings. */
  async setConntrackTimeouts (t: ConntrackTimeouts): Promise<void> {
    const settings: string[] = []
    if (t.udpSeconds !== undefined) settings.push(`net.netfilter.nf_conntrack_udp_timeout=${t.udpSeconds}`)
    if (t.udpStreamSeconds !== undefined) settings.push(`net.netfilter.nf_conntrack_udp_timeout_stream=${t.udpStreamSeconds}`)
    if (t.tcpEstablishedSeconds !== undefined) settings.push(`net.netfilter.nf_conntrack_tcp_timeout_established=${t.tcpEstablishedSeconds}`)
    if (settings.length > 0) await nsRun(this.ns, 'sysctl', ['-qw', ...settings])
  }

  /** The router's conntrack table: every flow through (or to) it, before and after NAT. */
  async flows (): Promise<Flow[]> {
    const r = await nsRun(this.ns, 'conntrack', ['-L'], { allowFailure: true })
    return parseConntrack(r.stdout)
  }

  /** Flows whose two outside endpoints are `a` and `b`, e.g. two routers' WAN addresses: traffic that went direct. */
  async flowsBetween (a: string, b: string): Promise<Flow[]> {
    return (await this.flows()).filter(f => flowConnects(f, a, b))
  }

  /** Forgets every NAT mapping (what a reboot or a power cut does). */
  async flushConntrack (): Promise<void> {
    await nsRun(this.ns, 'conntrack', ['-F'], { allowFailure: true })
  }

  private get miniupnpdFiles (): { conf: string, pid: string, lease: string } {
    const base = join(this.lab.runDir, `${this.name}-miniupnpd`)
    return { conf: `${base}.conf`, pid: `${base}.pid`, lease: `${base}.leases` }
  }

  /** Starts miniupnpd with the given protocols (replacing a running one). */
  async startPortMapping (init: PortMappingInit = {}): Promise<void> {
    if (!hasTool('miniupnpd')) throw new LabToolMissingError('miniupnpd')
    const privateWan = init.privateWan ?? 'refuse'
    const program = miniupnpdProgram(privateWan)
    await this.stopPortMapping()
    this.portMapping = { upnp: init.upnp ?? true, natpmp: init.natpmp ?? true, pcp: init.pcp ?? true, privateWan, ...(init.extIp !== undefined ? { extIp: init.extIp } : {}) }
    await this.applyRules()
    const files = this.miniupnpdFiles
    writeFileSync(files.conf, miniupnpdConfig({
      wan: this.wan,
      lan: this.lan,
      lanSubnet: this.lanSubnet,
      upnp: this.portMapping.upnp,
      natpmpOrPcp: this.portMapping.natpmp || this.portMapping.pcp,
      leaseFile: files.lease,
      allowPrivateWan: privateWan === 'map',
      ...(init.extIp !== undefined ? { extIp: init.extIp } : {})
    }))
    const proc = await this.lab.spawn(this, program, ['-d', '-f', files.conf, '-P', files.pid], { logName: `${this.name}-miniupnpd` })
    await proc.waitForOutput(/Listening for NAT-PMP|HTTP listening on port|ready/i, 10_000).catch(() => {
      log('miniupnpd on %s printed no readiness line; continuing', this.name)
    })
    if (!proc.running) {
      const why = proc.recentOutput.trim().split('\n').filter(l => !l.startsWith('#')).slice(-2).join(' | ')
      throw new LabTopologyError(`miniupnpd on ${this.name} exited at start: ${why} (log: ${proc.logFile})`)
    }
    this.miniupnpd = proc
  }

  /** The IGD description URL (from miniupnpd's log), for `upnpc -u URL` without SSDP discovery. */
  get upnpRootUrl (): string | undefined {
    const m = this.miniupnpd?.recentOutput.match(/HTTP listening on port (\d+)/)
    return m?.[1] === undefined ? undefined : `http://${this.lanIp}:${m[1]}/rootDesc.xml`
  }

  /** The router's port mappings (UPnP and NAT-PMP/PCP alike), as `upnpc -l` run on a LAN host lists them. */
  async listMappings (from: LabHost = this.hosts[0] ?? assertNever('router has no LAN host')): Promise<UpnpMapping[]> {
    const url = this.upnpRootUrl
    const r = await this.lab.exec(from, 'upnpc', [...(url !== undefined ? ['-u', url] : []), '-l'], { allowFailure: true })
    return parseUpnpcList(r.stdout)
  }

  /** Stops miniupnpd (by PID); its rules stay until flushed, as after a crash. */
  async stopPortMapping (): Promise<void> {
    if (this.miniupnpd !== undefined) {
      await this.miniupnpd.stop()
      this.miniupnpd = undefined
    }
  }

  /**
   * A router reboot: miniupnpd stops, its mappings (chains and lease file) and every NAT
   * mapping in conntrack are gone, then miniupnpd starts again with the same protocols.
   */
  async reboot (): Promise<void> {
    const mapping = this.portMapping
    await this.stopPortMapping()
    await nsRun(this.ns, 'nft', ['-f', '-'], { input: flushMiniupnpdChains() })
    rmSync(this.miniupnpdFiles.lease, { force: true })
    await this.flushConntrack()
    if (mapping !== undefined) await this.startPortMapping(mapping)
  }

  /**
   * A new public address from the ISP: the WAN address changes, the NAT rules follow, existing
   * mappings die, and miniupnpd is told (SIGUSR1) to announce the new address. Returns it.
   */
  async changeWanAddress (newIp?: string): Promise<string> {
    const next = newIp ?? this.lab.allocateWanIp(this.upstream)
    await nsRun(this.ns, 'ip', ['addr', 'del', `${this.wanIp}/24`, 'dev', this.wan])
    await nsRun(this.ns, 'ip', ['addr', 'add', `${next}/24`, 'dev', this.wan])
    await nsRun(this.ns, 'ip', ['route', 'replace', 'default', 'via', this.gateway, 'dev', this.wan])
    log('%s: WAN address %s → %s', this.name, this.wanIp, next)
    this.wanIp = next
    await this.applyRules()
    await this.flushConntrack()
    this.miniupnpd?.signal('SIGUSR1')
    return next
  }
}

function assertNever (message: string): never {
  throw new LabTopologyError(message)
}

/** A port mapping as `upnpc -l` lists it. */
export interface UpnpMapping {
  protocol: 'TCP' | 'UDP'
  externalPort: number
  internalIp: string
  internalPort: number
  description: string
  remoteHost: string
  leaseSeconds: number
}

/** Parses `upnpc -l` lines like ` 0 UDP  5000->192.168.1.10:5000  'libminiupnpc' '' 0`. */
export function parseUpnpcList (text: string): UpnpMapping[] {
  const out: UpnpMapping[] = []
  for (const line of text.split('\n')) {
    const m = line.match(/^\s*\d+\s+(TCP|UDP)\s+(\d+)->([\d.]+):(\d+)\s+'([^']*)'\s+'([^']*)'\s+(\d+)/)
    if (m === null) continue
    out.push({
      protocol: m[1] as 'TCP' | 'UDP',
      externalPort: Number(m[2]),
      internalIp: m[3] ?? '',
      internalPort: Number(m[4]),
      description: m[5] ?? '',
      remoteHost: m[6] ?? '',
      leaseSeconds: Number(m[7])
    })
  }
  return out
}

/** A home network: its router and the hosts behind it. */
export interface Home {
  name: string
  router: Router
  hosts: LabHost[]
}

function randomId (): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  const bytes = randomBytes(RUN_ID_LENGTH)
  let id = ''
  for (const b of bytes) id += alphabet[b % alphabet.length]
  // a letter first, so names never look numeric
  return 'abcdefghijklmnopqrstuvwxyz'[(bytes[0] ?? 0) % 26] + id.slice(1)
}


/** Tools every lab needs; others (miniupnpd, conntrack, gcc) are checked when used. */
export const REQUIRED_TOOLS = ['ip', 'nft', 'sysctl', 'tc']

/** Why the lab cannot run here (not root, a tool missing), or undefined when it can. */
export function labUnavailableReason (tools: string[] = []): string | undefined {
  if (process.getuid?.() !== 0) return 'the NAT lab needs root (network namespaces, nftables)'
  const missing = [...REQUIRED_TOOLS, ...tools].filter(t => !hasTool(t))
  if (missing.length > 0) return `the NAT lab needs ${missing.join(', ')}, not installed here`
  return undefined
}

/** One lab run: every namespace, process and log file it made, and the teardown for them. */
export class Lab {
  readonly id: string
  /** `brw-<id>-`: the start of every namespace and interface name of this run */
  readonly prefix: string
  readonly logDir: string
  readonly runDir: string
  /** the internet: its namespace, bridge, /24 and the bridge's address (routers' default gateway) */
  readonly internet: { ns: string, bridge: string, subnet: string, gateway: string }
  readonly hosts = new Map<string, LabHost>()
  readonly routers = new Map<string, Router>()
  readonly homes = new Map<string, Home>()
  readonly processes = new Set<LabProcess>()
  private readonly namespaceList: string[] = []
  private nextPublic = PUBLIC_HOST_FIRST
  private nextWan = ROUTER_WAN_FIRST
  private nextLan = 1
  private nextCgnat = 1
  private nextIf = 0
  private torn = false
  private readonly cgnatWanNext = new Map<Router, number>()

  private constructor (id: string, logDir: string, subnetBase: string) {
    this.id = id
    this.prefix = `${LAB_PREFIX}${id}-`
    this.logDir = logDir
    this.runDir = join(STATE_DIR, id)
    this.internet = {
      ns: `${this.prefix}inet`,
      bridge: `${this.prefix}br`,
      subnet: `${subnetBase}.0/24`,
      gateway: `${subnetBase}.${INTERNET_GATEWAY_HOST}`
    }
  }

  /** Builds an empty lab: the internet namespace and its bridge. Needs root. */
  static async create (init: LabInit = {}): Promise<Lab> {
    if (process.getuid?.() !== 0) throw new LabNotRootError()
    for (const tool of REQUIRED_TOOLS) {
      if (!hasTool(tool)) throw new LabToolMissingError(tool)
    }
    if (init.sweep !== false) {
      const swept = sweepStaleLabs()
      if (swept.runs.length > 0) log('swept stale runs %s', swept.runs.join(' '))
    }
    const id = randomId()
    const label = (init.name ?? 'lab').replace(/[^a-zA-Z0-9_-]/g, '-')
    const logDir = init.logDir ?? [join(packageRoot(), '.lab-logs', `${label}-${id}`), join(tmpdir(), 'burrow-lab-logs', `${label}-${id}`)].find(writableDir)
    if (logDir === undefined || !writableDir(logDir)) throw new LabTopologyError('no writable log folder')
    const b = randomBytes(2)
    const lab = new Lab(id, logDir, `${INTERNET_FIRST_OCTET}.${1 + ((b[0] ?? 0) % 254)}.${b[1] ?? 0}`)
    writeRunState(id)
    mkdirSync(lab.runDir, { recursive: true })
    registerForExit(lab)
    try {
      const { ns, bridge, gateway } = lab.internet
      await lab.addNamespace(ns, false)
      await nsRun(ns, 'ip', ['link', 'add', bridge, 'type', 'bridge', 'mcast_snooping', '0'])
      await nsRun(ns, 'ip', ['addr', 'add', `${gateway}/24`, 'dev', bridge])
      await nsRun(ns, 'ip', ['link', 'set', bridge, 'up'])
    } catch (err) {
      await lab.teardown()
      throw err
    }
    log('lab %s: internet %s, logs in %s', id, lab.internet.subnet, logDir)
    return lab
  }

  /** Every namespace this lab made. */
  get namespaces (): string[] {
    return [...this.namespaceList]
  }

  get tornDown (): boolean {
    return this.torn
  }

  private checkName (name: string): void {
    if (this.torn) throw new LabTopologyError('the lab is torn down')
    if (!NAME.test(name)) throw new LabTopologyError(`bad name "${name}": lower-case letters, digits and "-", at most 20`)
    if (this.hosts.has(name) || this.routers.has(name) || name === 'inet') throw new LabTopologyError(`"${name}" exists already`)
  }

  private ifname (suffix: string): string {
    const name = `${this.prefix}${this.nextIf}${suffix}`
    if (name.length > IFNAME_MAX) throw new LabTopologyError(`interface name ${name} too long`)
    return name
  }

  /**
   * A new namespace with IPv4 forwarding set explicitly: on for routers, off for everything
   * else. A new namespace copies the host's IPv4 settings (the kernel's devconf_inherit_init_net),
   * and a host that runs Docker or podman has net.ipv4.ip_forward=1, so leaving it unset would
   * turn every lab host and the internet namespace into a router there.
   */
  private async addNamespace (ns: string, forwarding: boolean): Promise<void> {
    this.namespaceList.push(ns)
    await run('ip', ['netns', 'add', ns])
    const v = forwarding ? '1' : '0'
    await nsRun(ns, 'sysctl', [
      '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1',
      `net.ipv4.ip_forward=${v}`, `net.ipv4.conf.all.forwarding=${v}`, `net.ipv4.conf.default.forwarding=${v}`
    ])
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  }

  /** A veth pair born with one end in each namespace (never in the host's own). */
  private async link (nsA: string, nsB: string): Promise<[string, string]> {
    this.nextIf++
    const a = this.ifname('a')
    const b = this.ifname('b')
    await run('ip', ['-n', nsA, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', nsB])
    return [a, b]
  }

  /** @internal a WAN address on the internet, or on a CGNAT's 100.64 segment */
  allocateWanIp (upstream: Router | undefined): string {
    if (upstream === undefined) {
      if (this.nextWan > ROUTER_WAN_LAST) throw new LabTopologyError('no internet addresses left for routers')
      return this.internet.subnet.replace(/\.0\/24$/, `.${this.nextWan++}`)
    }
    const n = this.cgnatWanNext.get(upstream) ?? LAN_HOST_FIRST
    if (n > 254) throw new LabTopologyError(`no addresses left behind ${upstream.name}`)
    this.cgnatWanNext.set(upstream, n + 1)
    return upstream.lanSubnet.replace(/\.0\/24$/, `.${n}`)
  }

  /** A host on the internet: a relay, bootstrap node, address observer, STUN server. */
  async addPublicHost (name: string): Promise<LabHost> {
    this.checkName(name)
    if (this.nextPublic > PUBLIC_HOST_LAST) throw new LabTopologyError('no internet addresses left for public hosts')
    const ip = this.internet.subnet.replace(/\.0\/24$/, `.${this.nextPublic++}`)
    const ns = `${this.prefix}${name}`
    await this.addNamespace(ns, false)
    const [inside, bridgePort] = await this.link(ns, this.internet.ns)
    await nsRun(this.internet.ns, 'ip', ['link', 'set', bridgePort, 'master', this.internet.bridge, 'up'])
    await nsRun(ns, 'ip', ['addr', 'add', `${ip}/24`, 'dev', inside])
    await nsRun(ns, 'ip', ['link', 'set', inside, 'up'])
    const host = new LabHost(this, name, ns, inside, ip)
    this.hosts.set(name, host)
    log('public host %s: %s', name, ip)
    return host
  }

  private async addRouter (name: string, kind: 'home' | 'cgnat', nat: NatKind, hairpin: boolean, upstream: Router | undefined): Promise<Router> {
    this.checkName(name)
    const ns = `${this.prefix}${name}`
    const upNs = upstream?.ns ?? this.internet.ns
    const upBridge = upstream?.lan ?? this.internet.bridge
    const wanIp = this.allocateWanIp(upstream)
    let lanSubnet: string
    if (kind === 'cgnat') {
      if (this.nextCgnat > 254) throw new LabTopologyError('no CGNAT segments left')
      lanSubnet = `100.64.${this.nextCgnat++}.0/24`
    } else {
      if (this.nextLan > 254) throw new LabTopologyError('no LAN subnets left')
      lanSubnet = `192.168.${this.nextLan++}.0/24`
    }
    const lanIp = lanSubnet.replace(/\.0\/24$/, '.1')
    const gateway = upstream?.lanIp ?? this.internet.gateway
    await this.addNamespace(ns, true)
    const [wan, peer] = await this.link(ns, upNs)
    await nsRun(upNs, 'ip', ['link', 'set', peer, 'master', upBridge, 'up'])
    await nsRun(ns, 'ip', ['addr', 'add', `${wanIp}/24`, 'dev', wan])
    await nsRun(ns, 'ip', ['link', 'set', wan, 'up'])
    await nsRun(ns, 'ip', ['route', 'add', 'default', 'via', gateway, 'dev', wan])
    this.nextIf++
    const lan = this.ifname('l')
    await nsRun(ns, 'ip', ['link', 'add', lan, 'type', 'bridge', 'mcast_snooping', '0'])
    await nsRun(ns, 'ip', ['addr', 'add', `${lanIp}/24`, 'dev', lan])
    await nsRun(ns, 'ip', ['link', 'set', lan, 'up'])
    const router = new Router(this, {
      name, ns, kind, nat, wan, lan, wanIp, lanIp, lanSubnet, gateway, upstream, hairpin, wanPeer: { ns: upNs, iface: peer }
    })
    this.routers.set(name, router)
    upstream?.downstream.push(router)
    log('%s router %s (%s): WAN %s, LAN %s', kind, name, nat, wanIp, lanSubnet)
    return router
  }

  /** A carrier-grade NAT: a router on the internet whose "LAN" is a 100.64.x.0/24 segment for home routers (`behind`). */
  async addCgnat (name: string, init: CgnatInit = {}): Promise<Router> {
    const router = await this.addRouter(name, 'cgnat', init.nat ?? 'cone', false, undefined)
    await router.applyRules(true)
    if (init.delayMs !== undefined && init.delayMs > 0) await router.setDelay(init.delayMs)
    if (init.rateMbit !== undefined) await router.setRate(init.rateMbit)
    return router
  }

  /** A host on a router's LAN. */
  async addLanHost (router: Router, name: string): Promise<LabHost> {
    this.checkName(name)
    const ip = router.allocateLanIp()
    const ns = `${this.prefix}${name}`
    await this.addNamespace(ns, false)
    const [inside, port] = await this.link(ns, router.ns)
    await nsRun(router.ns, 'ip', ['link', 'set', port, 'master', router.lan, 'up'])
    await nsRun(ns, 'ip', ['addr', 'add', `${ip}/24`, 'dev', inside])
    await nsRun(ns, 'ip', ['link', 'set', inside, 'up'])
    await nsRun(ns, 'ip', ['route', 'add', 'default', 'via', router.lanIp, 'dev', inside])
    const host = new LabHost(this, name, ns, inside, ip, router)
    this.hosts.set(name, host)
    router.hosts.push(host)
    return host
  }

  /**
   * A home network `name`: router `<name>-gw` and hosts `<name>` (one host) or `<name>1`,
   * `<name>2`, ... behind it.
   */
  async addHome (name: string, init: HomeInit = {}): Promise<Home> {
    const count = init.hosts ?? 1
    if (!Number.isInteger(count) || count < 1 || count > 200) throw new LabTopologyError(`bad host count ${count}`)
    if (init.behind !== undefined && init.behind.kind !== 'cgnat') throw new LabTopologyError('`behind` must be a router made by addCgnat')
    const router = await this.addRouter(`${name}-gw`, 'home', init.nat ?? 'cone', init.hairpin ?? false, init.behind)
    const hosts: LabHost[] = []
    for (let i = 1; i <= count; i++) {
      hosts.push(await this.addLanHost(router, count === 1 ? name : `${name}${i}`))
    }
    await router.applyRules(true)
    if (init.portMapping !== undefined) await router.startPortMapping(init.portMapping)
    if (init.delayMs !== undefined && init.delayMs > 0) await router.setDelay(init.delayMs)
    if (init.rateMbit !== undefined) await router.setRate(init.rateMbit)
    const home: Home = { name, router, hosts }
    this.homes.set(name, home)
    return home
  }

  /** A host by name; throws when there is none. */
  host (name: string): LabHost {
    const h = this.hosts.get(name)
    if (h === undefined) throw new LabTopologyError(`no host "${name}"`)
    return h
  }

  /** A router by name; throws when there is none. */
  router (name: string): Router {
    const r = this.routers.get(name)
    if (r === undefined) throw new LabTopologyError(`no router "${name}"`)
    return r
  }

  private nsOf (target: LabTarget): string {
    if (typeof target !== 'string') return target.ns
    const known = this.hosts.get(target) ?? this.routers.get(target)
    if (known !== undefined) return known.ns
    if (this.namespaceList.includes(target)) return target
    throw new LabTopologyError(`no host, router or lab namespace "${target}"`)
  }

  /** Runs a command inside a host's or router's namespace and waits for it. */
  async exec (target: LabTarget, cmd: string, args: string[], options?: RunOptions): Promise<RunResult> {
    if (this.torn) throw new LabTopologyError('the lab is torn down')
    return nsRun(this.nsOf(target), cmd, args, options)
  }

  /** Starts a long-running process in a namespace; tracked by PID and killed by teardown; output in `<logDir>/<logName>.log`. */
  async spawn (target: LabTarget, cmd: string, args: string[], options: SpawnOptions = {}): Promise<LabProcess> {
    if (this.torn) throw new LabTopologyError('the lab is torn down')
    const ns = this.nsOf(target)
    const name = options.logName ?? `${typeof target === 'string' ? target : target.name}-${cmd.split('/').pop() ?? cmd}`
    const proc = await spawnInNamespace(ns, cmd, args, join(this.logDir, `${name.replace(/[^a-zA-Z0-9_.-]/g, '-')}.log`), name, options)
    this.processes.add(proc)
    void proc.exited.then(() => this.processes.delete(proc))
    return proc
  }

  /** Runs one of the plain-socket probes (see probes.ts) with this process's Node. */
  async probe (target: LabTarget, args: string[], options?: RunOptions): Promise<RunResult> {
    return this.exec(target, process.execPath, ['--input-type=module', '-e', PROBE_SCRIPT, '--', ...args], options)
  }

  /** Starts a long-running probe (e.g. an address observer). */
  async spawnProbe (target: LabTarget, args: string[], options?: SpawnOptions): Promise<LabProcess> {
    return this.spawn(target, process.execPath, ['--input-type=module', '-e', PROBE_SCRIPT, '--', ...args], options)
  }

  /**
   * Stops every process (SIGTERM, then SIGKILL), deletes every namespace (and with them
   * every veth and bridge), removes the run's state. Safe to call twice.
   */
  async teardown (): Promise<void> {
    if (this.torn) return
    this.torn = true
    await Promise.all([...this.processes].map(async p => { await p.stop(KILL_GRACE_MS) }))
    this.finish()
  }

  /** The synchronous teardown, for exit and signal handlers. */
  teardownSync (): void {
    if (this.torn && this.namespaceList.length === 0) return
    this.torn = true
    this.finish()
  }

  private finish (): void {
    const namespaces = [...this.namespaceList].reverse()
    this.namespaceList.length = 0
    destroySync(namespaces, [...this.processes].filter(p => p.running).map(p => p.pid), KILL_GRACE_MS)
    rmSync(this.runDir, { recursive: true, force: true })
    removeRunState(this.id)
    unregisterForExit(this)
    log('lab %s torn down', this.id)
  }
}
