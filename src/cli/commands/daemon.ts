import { packageVersion } from '../../package/index.js'
import { collect, fail } from '../output.js'
import { globals, homeOf } from '../context.js'
import { formatEvent } from '../../events/index.js'
import { compactHeap, relaunch } from '../../memory/index.js'
import type { BurrowEvent, BurrowEventType } from '../../events/index.js'
import type { Command } from 'commander'

/** Events the daemon prints on stdout (all of them: `burrow events`). */
const DAEMON_EVENTS = new Set<BurrowEventType>([
  'reachability:changed', 'reservation:created', 'reservation:lost',
  'mapping:created', 'mapping:renewed', 'mapping:lost', 'holepunch:direct'
])

interface DaemonFlags {
  listen?: string[]
  announce?: string[]
  bootstrap?: string[]
  network?: string
  relayServer?: string | boolean
  portMapping?: string
  lanOnly?: boolean
  metrics?: string
  metricsPublic?: boolean
  ui?: string
  uiPublic?: boolean
  dhtMode?: string
  dialPrivateAddresses?: string
  punch?: string
  stunServer?: string[]
  udpPort?: string
  udpStunServer?: string[]
  stunPort?: string
  tcpDialPort?: string
}

/** `--punch`: which hole punching paths run (config `holePunch`, `udx` and `udpPunch`). */
const PUNCH_MODES: Record<string, { holePunch: boolean, udx: boolean, udpPunch: boolean }> = {
  auto: { holePunch: true, udx: true, udpPunch: false },
  tcp: { holePunch: true, udx: false, udpPunch: false },
  udx: { holePunch: false, udx: true, udpPunch: false },
  webrtc: { holePunch: false, udx: false, udpPunch: true },
  off: { holePunch: false, udx: false, udpPunch: false }
}

/** Old `--punch` values still taken, with the line the daemon prints for them. */
const PUNCH_ALIASES: Record<string, { to: string, note: string }> = {
  udp: { to: 'udx', note: '--punch udp is deprecated: it now means --punch udx (the UDX path); the old WebRTC path is --punch webrtc' },
  both: { to: 'auto', note: '--punch both is deprecated: it now means --punch auto (TCP and UDX raced); WebRTC is --punch webrtc' }
}

/** When the daemon says how many bootstrap peers answered. */
const BOOTSTRAP_REPORT_MS = 10_000
/** A second heap compaction this long after ready: bootstrap, the first DHT walk and reservations are done by then (src/memory). */
const COMPACT_AGAIN_MS = 15_000

/** How long a clean stop may take before the daemon gives up on it. */
const STOP_TIMEOUT_MS = 10_000

export function register (program: Command): void {
  program.command('daemon')
    .description('run the node in the foreground until SIGINT/SIGTERM')
    .option('--listen <multiaddr>', 'listen address (repeatable; default TCP port 4001 on 0.0.0.0 and ::)', collect)
    .option('--announce <multiaddr>', 'address others should dial, e.g. a port forward made by hand (repeatable)', collect)
    .option('--bootstrap <multiaddr>', "bootstrap peer (repeatable; replaces the network's list)", collect)
    .option('--network <name>', "swarm to join: 'amino' (public DHT) or the name of an own swarm")
    .option('--relay-server [mode]', "offer circuit relay v2: on, off or auto (only when publicly reachable)")
    .option('--port-mapping <mode>', 'auto, upnp, nat-pmp, pcp or off')
    .option('--lan-only', 'map nothing, announce only LAN addresses, find LAN peers with mDNS')
    .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (loopback unless --metrics-public)')
    .option('--metrics-public', 'allow --metrics on a non-loopback address (e.g. 0.0.0.0 in a container)')
    .option('--ui <host:port>', 'serve the live view, one web page of this node, at http://HOST:PORT/ (loopback unless --ui-public)')
    .option('--ui-public', 'allow --ui on a non-loopback address (anyone who reaches it sees peers and messages)')
    .option('--dht-mode <mode>', 'auto, client or server')
    .option('--dial-private-addresses <mode>', 'auto, on or off: use private addresses learned from others')
    .option('--punch <paths>', 'hole punching: auto (TCP DCUtR and UDX raced), tcp, udx, webrtc (the old WebRTC path) or off; udp is an alias of udx')
    .option('--udp-port <port>', 'UDP port of the UDX socket (0: the TCP listen port number)')
    .option('--udp-stun-server <host:port>', "STUN server for the UDX socket's public address (repeatable; 'none' for none)", collect)
    .option('--stun-server <url>', "STUN server for the UDP path, stun:HOST:PORT (repeatable; 'none' for none; default: the bootstrap peers' hosts)", collect)
    .option('--tcp-dial-port <port>', 'local port every outgoing TCP connection leaves from (hole punching); 0 picks a free one')
    .option('--stun-port <port>', 'port of the STUN server a relay runs and of the bootstrap peers\' ones (0: none)')
    .action(async (flags: DaemonFlags, cmd: Command) => { await runDaemon(flags, cmd) })
}

async function runDaemon (flags: DaemonFlags, cmd: Command): Promise<void> {
  // glibc's malloc settings (src/memory) first, before the node's modules load: a re-run now
  // repeats only the CLI's start (bin/burrow.js does it earlier still)
  relaunch({ tuneMalloc: true })
  // loaded here, not at the top: other commands start without the node and libp2p
  const { createNode } = await import('../../node/index.js')
  const { InvalidConfigError } = await import('../../config/index.js')
  const { ControlServer } = await import('../../control/index.js')
  const home = homeOf(cmd)
  const verbose = globals(cmd).verbose === true
  const alias = flags.punch !== undefined ? PUNCH_ALIASES[flags.punch] : undefined
  const punchMode = alias?.to ?? flags.punch
  const punch = punchMode !== undefined ? PUNCH_MODES[punchMode] : undefined
  if (flags.punch !== undefined && punch === undefined) {
    fail(new InvalidConfigError('holePunch', `--punch must be one of ${Object.keys(PUNCH_MODES).join(', ')} (got '${flags.punch}')`), verbose)
  }
  const overrides: Record<string, unknown> = {
    holePunch: punch?.holePunch,
    udpPunch: punch?.udpPunch,
    udx: punch?.udx,
    'udp.port': flags.udpPort !== undefined ? Number(flags.udpPort) : undefined,
    'udp.stunServers': flags.udpStunServer,
    stunServers: flags.stunServer,
    stunPort: flags.stunPort !== undefined ? Number(flags.stunPort) : undefined,
    tcpDialPort: flags.tcpDialPort !== undefined ? Number(flags.tcpDialPort) : undefined,
    listen: flags.listen,
    announce: flags.announce,
    bootstrap: flags.bootstrap,
    network: flags.network,
    relayServer: flags.relayServer === true ? 'on' : flags.relayServer,
    portMapping: flags.portMapping,
    lanOnly: flags.lanOnly,
    metrics: flags.metrics,
    metricsPublic: flags.metricsPublic,
    ui: flags.ui,
    uiPublic: flags.uiPublic,
    dhtMode: flags.dhtMode,
    dialPrivateAddresses: flags.dialPrivateAddresses
  }

  const heapNote = await applyProcessLimits(home, overrides)
  if (alias != null) console.error(`burrow: ${alias.note}`)
  const node = await createNode({ home, env: process.env, config: overrides })
  const control = new ControlServer(node, home)
  // loaded only with --ui: other runs do not pay for the page
  let ui: import('../../ui/index.js').UiServer | undefined

  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) {
      console.error(`burrow: second ${signal}: forcing exit`)
      process.exit(130)
    }
    stopping = true
    console.log(`${signal}: stopping (press Ctrl-C again to force)`)
    const force = setTimeout(() => {
      console.error(`burrow: clean stop took over ${STOP_TIMEOUT_MS / 1000} s: forcing exit`)
      process.exit(1)
    }, STOP_TIMEOUT_MS)
    force.unref()
    void (async () => {
      await ui?.stop()
      await control.stop()
      await node.stop()
      console.log('stopped')
      process.exit(0)
    })().catch(err => { fail(err, verbose) })
  }
  process.on('SIGINT', () => { shutdown('SIGINT') })
  process.on('SIGTERM', () => { shutdown('SIGTERM') })

  try {
    await node.start()
    await control.start()
    if (node.config.ui != null) {
      const { UiServer } = await import('../../ui/index.js')
      ui = new UiServer({ address: node.config.ui, node })
      await ui.start()
    }
  } catch (err) {
    await ui?.stop().catch(() => {})
    await control.stop().catch(() => {})
    await node.stop().catch(() => {})
    fail(err, verbose)
  }

  const status = await node.status()
  console.log(`burrow ${packageVersion()} daemon`)
  console.log(`PeerId: ${status.peerId}`)
  console.log(`network: ${status.network} (DHT ${status.dht.protocol}, ${status.dht.mode} mode)`)
  console.log('listening on:')
  for (const a of status.addresses.listen) console.log(`  ${a}`)
  if (status.addresses.announced.length > 0) {
    console.log('announcing:')
    for (const a of status.addresses.announced) console.log(`  ${a}`)
  }
  if (node.bootstrapPeers.length === 0) {
    console.log(`no bootstrap peers: this node starts network '${status.network}' on its own; others join it with --bootstrap ${status.addresses.announced[0] ?? 'ADDRESS'}`)
  }
  for (const note of node.startNotes) console.log(note)
  if (heapNote != null) console.log(heapNote)
  console.log(`control socket: ${control.socketPath}`)
  if (node.metricsUrl != null) console.log(`metrics: Prometheus text at ${node.metricsUrl}${node.config.metricsPublic ? ' (--metrics-public: reachable beyond this host)' : ''}`)
  if (ui?.url != null) console.log(`live view: ${ui.url}${node.config.uiPublic ? ' (--ui-public: reachable beyond this host)' : ''}`)
  console.log('ready')
  // the start burst is over: give its garbage and the grown young generation back now
  // rather than after V8's ~30 s of quiet (src/memory); once more when bootstrap has settled
  if (node.config.compactHeap) {
    compactHeap()
    setTimeout(() => { compactHeap() }, COMPACT_AGAIN_MS).unref()
  }

  // a node that reaches none of its bootstrap peers says so, once, with what to check
  if (node.bootstrapPeers.length > 0) {
    setTimeout(() => {
      void node.status().then(s => {
        if (s.bootstrap.answered === 0) console.log(`bootstrap: 0 of ${s.bootstrap.peers} peers answered after ${BOOTSTRAP_REPORT_MS / 1000} s: check the network, or pass --bootstrap`)
        else console.log(`bootstrap: ${s.bootstrap.answered} of ${s.bootstrap.peers} peers answered`)
      }, () => {})
    }, BOOTSTRAP_REPORT_MS).unref()
  }

  // the node's story, one timestamped line per important event: first those of the start
  let told = 0
  const tell = (e: BurrowEvent): void => {
    if (e.seq <= told || !DAEMON_EVENTS.has(e.type)) return
    told = e.seq
    console.log(`${e.time} ${formatEvent(e)}`)
  }
  node.addEventListener('event', (evt) => { tell(evt.detail) })
  for (const e of node.recentEvents()) tell(e)

  node.addEventListener('message', (evt) => {
    const m = evt.detail
    console.log(`message ${m.id} from ${m.from} (${m.body.byteLength} bytes, ${m.via})`)
  })
  node.addEventListener('message:failed', (evt) => {
    console.log(`message ${evt.detail.id} to ${evt.detail.to} failed: ${evt.detail.lastError ?? 'expired'}`)
  })
}

/**
 * The daemon runs with glibc's malloc tuned for a long-running process (DAEMON_MALLOC_ENV, src/memory), and a
 * relay (relayServer 'on') with V8's heap capped at relay.maxHeapMb: the process re-runs
 * itself with both, in place, before anything is opened (src/memory). A config that does not
 * load is left to node.start(), which says what is wrong.
 */
async function applyProcessLimits (home: string, overrides: Record<string, unknown>): Promise<string | undefined> {
  const { loadConfig } = await import('../../config/index.js')
  const config = await loadConfig({ home, env: process.env, flags: overrides }).catch(() => undefined)
  const relay = config?.relayServer === 'on' && !config.lanOnly
  // malloc's settings came first thing in runDaemon; a relay re-runs once more for its heap cap
  const note = relay ? relaunch({ maxHeapMb: config.relay.maxHeapMb }) : undefined
  if (note != null || !relay) return note
  const { getHeapStatistics } = await import('node:v8')
  return `heap: V8 heap limit ${Math.round(getHeapStatistics().heap_size_limit / 1e6)} MB (relay.maxHeapMb ${config.relay.maxHeapMb}; a --max-old-space-size given to node wins)`
}
