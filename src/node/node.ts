import { join } from 'node:path'
import { connect, createServer } from 'node:net'
import { LevelDatastore } from 'datastore-level'
import { logger } from '@libp2p/logger'
import { SOCKET_FILE, loadConfig, resolveHome } from '../config/index.js'
import { loadOrCreateIdentity } from '../identity/index.js'
import { readBootstrapFile, FIND_PEER_TIMEOUT_MS, FIND_PEER_WALKS, findPeerWalking, findViaRendezvous, routingTableSize } from '../swarm/index.js'
import { ObservedAddresses } from '../nat/index.js'
import { freeTcpPort, holePunchAttemptsOf } from '../holepunch/index.js'
import { udpAttemptsOf } from '../udppunch/index.js'
import type { HolePunchAttempt } from '../holepunch/index.js'
import { checkUpstream, patchConnectionChoice, patchKadDhtInbound, patchRelayLimitCodec } from '../upstream/index.js'
import { GuardedEventEmitter } from '../messaging/index.js'
import { linkSignals } from '../messaging/linked-signal.js'
import type { Messaging } from '../messaging/index.js'
import { packageVersion } from '../package/index.js'
import { assembleLibp2p } from './libp2p.js'
import { isCircuitAddress, isRelayed, relayOf } from '../connections/index.js'
import { assembleStatus, whyRelayedOf } from './status.js'
import { NamedAddresses, classifyIp, ipOf, privateDialPolicy } from '../dial-policy/index.js'
import { buildNatReport } from '../portmap/index.js'
import type { NatReport } from '../portmap/index.js'
import type { UdpStatus, UdxAttemptRecord } from '../udx/index.js'
import { runDoctor } from '../doctor/index.js'
import type { DoctorReport } from '../doctor/index.js'
import { parsePeerId, parseTarget } from './targets.js'
import { NodeEventSources } from './events.js'
import { EventRing } from '../events/index.js'
import type { BurrowEvent, BurrowEventPayloads, BurrowEventType } from '../events/index.js'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { DatastoreOpenError, DialFailedError, HomeInUseError, ListenFailedError, NotStartedError, PeerNotFoundError } from './errors.js'
import type { BurrowConfig, ConfigOverrides } from '../config/index.js'
import type { BurrowLibp2p } from './libp2p.js'
import type { BurrowNodeEvents, ConnectionInfo, DialResult, DialStage, FindResult, NodeStatus, PingReply } from './types.js'
import type { InboxMessage, OutboxEntry, SendResult } from '../messaging/index.js'
import type { AbortOptions, Connection, PeerId } from '@libp2p/interface'

const log = logger('burrow:node')

/** A direct dial that lost the race to the relay goes on in the background this long, then gives up. */
const DIRECT_TRY_TIMEOUT_MS = 3_000

/**
 * Happy eyeballs between a peer's own addresses and its relay circuit (issue 15, "never wait
 * for a path that cannot work"): the direct dial starts first and the relayed one this much
 * later, or at once when the direct one fails. RFC 8305's "connection attempt delay" is 250 ms:
 * a TCP + Noise handshake to a LAN or public peer finishes inside it, while a peer behind a
 * NAT that drops the SYN costs the relayed dial only this delay instead of a TCP timeout.
 */
export const DIRECT_HEAD_START_MS = 250

/** Addresses per path a dial tries (own ones at once, circuits one by one; libp2p's queue tries up to 25): a hostile peer's long list costs at most this many dials. */
const MAX_RACE_DIALS = 8
/**
 * LevelDB's block cache and write buffer for the node's datastore (peer store, DHT records,
 * inbox and outbox). LevelDB's defaults (8 MiB and 4 MiB) are sized for large databases; a
 * node's is a few MB, and the defaults let a busy node's RSS climb for its first tens of
 * minutes as the cache fills and the write buffer grows (measured: 60,000 inbox-like writes,
 * reads and deletes took +9.3 MB of native memory with the defaults and still climbing,
 * +6.6 MB and flat with 1 MiB each; the OS page cache still holds the table files).
 */
const DATASTORE_CACHE_BYTES = 1024 * 1024
const DATASTORE_WRITE_BUFFER_BYTES = 1024 * 1024

/** The direct dial beside the relay when `dial` returned: `none` (no own address to try), `pending`, `connected`, `failed`. */
export type DirectAttemptState = 'none' | 'pending' | 'connected' | 'failed'

export interface CreateNodeOptions {
  /** home dir holding identity.key, config.json and the datastore; default `$BURROW_HOME` or `~/.burrow` */
  home?: string
  /** settings by config path (`network`, `listen`, `messages.maxBytes`, …), as flags would give them */
  config?: ConfigOverrides
  /** environment to read BURROW_* settings from; default: none for the library, process.env for the CLI */
  env?: NodeJS.ProcessEnv
}

export interface SendOptions extends AbortOptions {
  contentType?: string
  id?: string
}

/**
 * A burrow node: libp2p assembled from config, the swarm, and the message protocol.
 *
 * ```ts
 * const node = await createNode({ home: '/tmp/a' })
 * node.addEventListener('message', evt => console.log(evt.detail.from, evt.detail.body))
 * await node.start()
 * await node.send('12D3KooW…', 'hello')
 * await node.stop()
 * ```
 */
/** Pings `burrow ping` sends by default: tailscale ping's 10, room for a hole punch (a few seconds) to finish. */
export const DEFAULT_PING_COUNT = 10

export class BurrowNode extends GuardedEventEmitter<BurrowNodeEvents> {
  readonly home: string
  private readonly options: CreateNodeOptions
  private _config?: BurrowConfig
  private _libp2p?: BurrowLibp2p
  private datastore?: LevelDatastore
  private messaging?: Messaging
  private startedAt?: Date
  /** the local port outgoing TCP connections leave from (0: ephemeral) */
  dialPort = 0
  /** the bootstrap peers this run started with (empty: the first node of a swarm) */
  bootstrapPeers: string[] = []
  /** one-line notes for the daemon to print at start (e.g. a private bootstrap address dialled because it was named) */
  startNotes: string[] = []
  /** addresses the user named: dialled even when private */
  private readonly named = new NamedAddresses()
  private readonly unsubscribe: Array<() => void> = []
  /** recent events, for `GET /v1/events` and late listeners */
  private readonly ring = new EventRing()
  private eventSources?: NodeEventSources

  constructor (options: CreateNodeOptions = {}) {
    super()
    this.options = options
    this.home = resolveHome(options.home, options.env ?? {})
  }

  get config (): BurrowConfig {
    if (this._config == null) throw new NotStartedError()
    return this._config
  }

  get libp2p (): BurrowLibp2p {
    if (this._libp2p == null) throw new NotStartedError()
    return this._libp2p
  }

  get peerId (): PeerId {
    return this.libp2p.peerId
  }

  /** Where Prometheus metrics are served (`http://HOST:PORT/metrics`), when config `metrics` is set. */
  get metricsUrl (): string | undefined {
    return this._libp2p?.services.burrowMetrics?.url
  }

  get isStarted (): boolean {
    return this.startedAt != null
  }

  /** Reads config and identity, opens the datastore and starts libp2p and messaging. Safe to call twice. */
  async start (): Promise<void> {
    if (this.startedAt != null) return
    const startCalledAt = new Date()
    log('starting')
    const config = await loadConfig({ home: this.home, env: this.options.env ?? {}, flags: this.options.config })
    const identity = await loadOrCreateIdentity(this.home)
    const bootstrapList = config.bootstrap ?? (await readBootstrapFile(config.network)).peers
    this.startNotes = []
    for (const b of config.bootstrap ?? []) {
      const ma = multiaddr(b)
      this.named.add(ma)
      const ip = ipOf(ma)
      const kind = ip == null ? 'public' : classifyIp(ip.ip)
      if (kind !== 'public' && privateDialPolicy(config) !== 'all') {
        this.startNotes.push(`bootstrap: dialling ${b} although it is a ${kind} address, because you named it; addresses learned from the network still follow dialPrivateAddresses`)
      }
    }

    const datastore = new LevelDatastore(join(this.home, 'datastore'), { cacheSize: DATASTORE_CACHE_BYTES, writeBufferSize: DATASTORE_WRITE_BUFFER_BYTES })
    try {
      await datastore.open()
    } catch (err) {
      // datastore-level drops the LOCK detail; a daemon answering on the socket tells it instead
      if (/lock/i.test(String((err as Error).cause ?? err)) || await daemonAnswers(this.home)) throw new HomeInUseError(this.home)
      throw new DatastoreOpenError(join(this.home, 'datastore'), (err as Error).message.split('\n')[0] ?? String(err), { cause: err })
    }

    try {
      const dialPort = config.holePunch && !config.lanOnly ? (config.tcpDialPort > 0 ? config.tcpDialPort : await freeTcpPort()) : 0
      const relayServer = config.relayServer !== 'off' && !config.lanOnly
      if (relayServer) await patchRelayLimitCodec()
      const libp2p = await assembleLibp2p({ config, privateKey: identity.privateKey, datastore, bootstrapList, dialPort, observed: new ObservedAddresses(), relayServer, named: this.named })
      // every patch of a dependency the enabled capabilities need still finds its shape (src/upstream)
      await checkUpstream({ services: libp2p.services, transports: libp2p.services.internals.transportManager.getTransports(), connectionManager: libp2p.services.internals.connectionManager }, {
        relayServer,
        relayClient: !config.lanOnly && config.relay.reservations > 0,
        holePunch: dialPort > 0,
        portMapping: config.portMapping !== 'off'
      })
      // inbound DHT streams are let go of when kad-dht's handler returns (src/upstream/kad-dht-inbound.ts)
      patchKadDhtInbound(libp2p.services.dht)
      // a forced (probe) connection is not where new streams to its peer go (src/upstream/connection-choice.ts)
      patchConnectionChoice(libp2p.services.internals.connectionManager)
      const messaging = libp2p.services.messaging
      // subscribed before libp2p starts: the first connections (bootstrap, relays) are events too
      this.eventSources = new NodeEventSources(libp2p, messaging, (type, data) => { this.emitEvent(type, data) })
      this.eventSources.start()
      this.forward(messaging, 'message')
      this.forward(messaging, 'message:delivered')
      this.forward(messaging, 'message:failed')
      const onConnect = (evt: CustomEvent<PeerId>): void => { this.safeDispatch('peer:connect', evt.detail.toString()) }
      const onDisconnect = (evt: CustomEvent<PeerId>): void => { this.safeDispatch('peer:disconnect', evt.detail.toString()) }
      const gate = libp2p.services.relayGate
      const onRefused = (evt: CustomEvent<{ status: string, reason: string }>): void => { this.emitEvent('relay:refused', evt.detail) }
      libp2p.addEventListener('peer:connect', onConnect)
      libp2p.addEventListener('peer:disconnect', onDisconnect)
      gate?.addEventListener('relay:refused', onRefused)
      this.unsubscribe.push(() => {
        libp2p.removeEventListener('peer:connect', onConnect)
        libp2p.removeEventListener('peer:disconnect', onDisconnect)
        gate?.removeEventListener('relay:refused', onRefused)
      })

      log('libp2p assembled; starting it')
      try {
        await libp2p.start()
      } catch (err) {
        if ((err as Error).name === 'UnsupportedListenAddressesError') throw await listenFailure(config.listen, err as Error)
        throw err
      }
      log('libp2p started')

      this._config = config
      this.bootstrapPeers = bootstrapList
      this._libp2p = libp2p
      this.datastore = datastore
      this.messaging = messaging
      // status.startedAt: when start() began, so "start → first reservation" counts the whole start
      this.startedAt = startCalledAt
      this.dialPort = dialPort
      log('started %p on %s', libp2p.peerId, config.network)
    } catch (err) {
      await this.stop().catch(() => {})
      await datastore.close().catch(() => {})
      throw err
    }
  }

  /** Stops messaging and libp2p and closes the datastore. Safe to call twice. */
  async stop (): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off()
    this.eventSources?.stop()
    this.eventSources = undefined
    await this._libp2p?.stop()
    await this.datastore?.close()
    this.messaging = undefined
    this._libp2p = undefined
    this.datastore = undefined
    this.startedAt = undefined
  }

  /** Sends one message; resolves once the peer acknowledged it (see Messaging.send). */
  async send (to: string | PeerId, body: string | Uint8Array, options: SendOptions = {}): Promise<SendResult> {
    const messaging = this.requireMessaging()
    const peer = parsePeerId(to)
    // the same lookup as dial: a private peer is found by its rendezvous record; not found
    // now, the message is queued and retried as before
    if (this.libp2p.getConnections(peer).length === 0 && !await this.knowsDialableAddresses(peer)) {
      await this.find(peer, options).catch(err => { log('no address for %p before sending - %e', peer, err) })
    }
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body
    return messaging.send(peer, bytes, {
      contentType: options.contentType ?? (typeof body === 'string' ? 'text/plain; charset=utf-8' : undefined),
      id: options.id,
      signal: options.signal
    })
  }

  async inbox (options: { since?: number, limit?: number } = {}): Promise<InboxMessage[]> {
    return this.requireMessaging().inbox(options)
  }

  /** Deletes received messages (all, or those received before `beforeMs`); see Messaging.clearInbox. */
  async clearInbox (options: { beforeMs?: number } = {}): Promise<number> {
    return this.requireMessaging().clearInbox(options)
  }

  async outbox (): Promise<OutboxEntry[]> {
    return this.requireMessaging().outbox()
  }

  /** Takes a queued or failed message out of the outbox (it is not retried); undefined when no entry has that id. */
  async cancelOutbox (id: string): Promise<OutboxEntry | undefined> {
    return this.requireMessaging().cancel(id)
  }

  /**
   * Finds a peer's addresses through the DHT: FIND_NODE for peers that serve the DHT,
   * and in parallel the rendezvous record a private node provides (see swarm/rendezvous).
   */
  async find (peer: string | PeerId, options: AbortOptions = {}): Promise<FindResult> {
    const libp2p = this.libp2p
    const id = parsePeerId(peer)
    const started = Date.now()
    const controller = new AbortController()
    // not AbortSignal.any(): a library user's long-lived signal would keep heap per find (linked-signal.ts)
    const linked = linkSignals([controller.signal, options.signal ?? AbortSignal.timeout(FIND_PEER_TIMEOUT_MS)])
    const signal = linked.signal
    const viaFindPeer = async (): Promise<FindResult> => {
      // asks the network even when the peer store knows an address; walks again when a walk
      // ends at servers that do not know it (src/swarm/find-peer.ts)
      const found = await findPeerWalking(libp2p.services.dht, id, { signal })
      if (found === undefined) throw new Error(`no DHT server knows it (${FIND_PEER_WALKS} walks)`)
      return { peerId: id.toString(), addresses: found.multiaddrs.map(String), source: 'dht', answeredBy: found.from.toString(), durationMs: Date.now() - started }
    }
    const viaRendezvous = async (): Promise<FindResult> => {
      const found = await findViaRendezvous(libp2p.services.dht, id, { signal })
      if (found == null) throw new Error('no rendezvous record')
      return { peerId: id.toString(), addresses: found.addresses.map(String), source: 'rendezvous', answeredBy: found.from, durationMs: Date.now() - started }
    }
    try {
      const rendezvous = viaRendezvous()
      rendezvous.catch(() => {})
      let result = await Promise.any([viaFindPeer(), rendezvous])
      log('find %p: first answer via %s after %d ms: %s', id, result.source, Date.now() - started, result.addresses.join(' '))
      // A DHT server that has not yet heard of a private peer's new relay reservation answers
      // with its LAN and loopback addresses only, which nobody elsewhere can dial: ask again
      // for a moment (the peer pushes its circuit address to its relay at once, and provides
      // its rendezvous record), and keep every address heard
      // (at once, then backing off: a fixed pause here was most of a PeerId dial's time)
      const deadline = Date.now() + FIND_USEFUL_GRACE_MS
      let pause = 0
      while (!usefulAddresses(result.addresses) && Date.now() < deadline && !signal.aborted) {
        if (pause > 0) await sleep(pause, signal).catch(() => {})
        pause = Math.min(FIND_RETRY_MS, Math.max(FIND_RETRY_FIRST_MS, pause * 2))
        const again = await Promise.any([viaFindPeer(), rendezvous]).catch(() => undefined)
        if (again != null) result = { ...again, addresses: [...new Set([...result.addresses, ...again.addresses])] }
      }
      await libp2p.peerStore.merge(id, { multiaddrs: result.addresses.map(a => multiaddr(a)) }).catch(() => {})
      log('find %p: done after %d ms', id, Date.now() - started)
      return result
    } catch (err) {
      const waited = Math.round((Date.now() - started) / 1000)
      // kad-dht waits for a first routing-table entry: with none, the find only ever waited
      if (signal.aborted && routingTableSize(libp2p.services.dht) === 0) throw new PeerNotFoundError(id.toString(), `no DHT server known: the routing table stayed empty for ${waited} s`, 'check the bootstrap list and the network (burrow status shows the DHT\'s routing table)')
      if (signal.aborted) throw new PeerNotFoundError(id.toString(), `no answer within ${waited} s`)
      const reasons = err instanceof AggregateError ? err.errors.map(e => (e as Error).message).join('; ') : (err as Error).message
      throw new PeerNotFoundError(id.toString(), reasons)
    } finally {
      controller.abort()
      linked.dispose()
    }
  }

  /** Connects to a PeerId (found through the DHT when needed) or a multiaddr. */
  async dial (target: string | PeerId, options: AbortOptions = {}): Promise<DialResult> {
    const libp2p = this.libp2p
    const parsed = typeof target === 'string' ? parseTarget(target) : { peerId: target }
    const started = Date.now()
    const label = typeof target === 'string' ? target : target.toString()
    let conn: Connection
    let directAttempt: (() => DirectAttemptState) | undefined
    try {
      if (parsed.multiaddr != null) {
        // the user named this address: it is dialled even when private
        this.named.add(parsed.multiaddr)
        conn = await libp2p.dial(parsed.multiaddr, options)
      } else if (parsed.peerId != null) {
        const raced = await this.connectRaced(parsed.peerId, options)
        conn = raced.conn
        directAttempt = raced.directAttempt
      } else {
        throw new DialFailedError(label, 'nothing to dial')
      }
    } catch (err) {
      if (err instanceof DialFailedError) throw err
      if ((err as Error).name === 'DialDeniedError') {
        const policy = this.config.dialPrivateAddresses
        throw new DialFailedError(label, `every address known for it is private, loopback or link-local, and dialPrivateAddresses is '${policy}' on network '${this.config.network}': dial an address you name (burrow dial MULTIADDR), or pass --dial-private-addresses on in a private swarm`, { cause: err })
      }
      throw new DialFailedError(label, (err as Error).message.split('\n')[0] ?? String(err), { cause: err })
    }
    if (!isDirect(conn) && directAttempt == null) {
      const tried = await this.tryDirect(conn)
      conn = tried.conn
      directAttempt = tried.directAttempt
    }
    const state = isDirect(conn) ? 'connected' : directAttempt?.() ?? 'none'
    log('dial %s: %s after %d ms (direct attempt: %s)', label, isDirect(conn) ? 'direct' : 'relayed', Date.now() - started, state)
    return {
      peerId: conn.remotePeer.toString(),
      remoteAddress: conn.remoteAddr.toString(),
      direct: isDirect(conn),
      directAttempt: state,
      durationMs: Date.now() - started
    }
  }

  /**
   * The lookup `dial`, `ping` and `send` share: an open connection (direct first), else
   * the peer's known addresses, else a DHT lookup (FIND_NODE and the rendezvous record a
   * private peer provides: it is in nobody's routing table); then the paths raced.
   */
  private async connect (peer: PeerId, options: AbortOptions = {}): Promise<Connection> {
    return (await this.connectRaced(peer, options)).conn
  }

  private async connectRaced (peer: PeerId, options: AbortOptions = {}): Promise<{ conn: Connection, directAttempt?: () => DirectAttemptState }> {
    const existing = bestConnection(this.libp2p.getConnections(peer))
    if (existing != null) return { conn: existing }
    try {
      return await this.lookUpAndDial(peer, options)
    } catch (err) {
      // our dial lost to a connection that opened meanwhile (the peer dialled us through the
      // relay at the same moment, and the connection manager closed ours as the duplicate:
      // "Remote closed connection during opening"): the peer is reachable, use that one
      const now = bestConnection(this.libp2p.getConnections(peer))
      if (now == null) throw err
      log('connect %p: the dial failed (%s) but a connection opened meanwhile: %a', peer, (err as Error).message.split('\n')[0], now.remoteAddr)
      return { conn: now }
    }
  }

  /**
   * Looks the peer up unless we know an address of it we would dial, then dials. Addresses
   * we knew without a lookup may be stale or partial: a private peer's LAN addresses, heard
   * from a DHT server while the peer served the DHT for a moment at its start, before it had
   * its relay reservation (the lab: 1 in ~20 trials of `udp-path`), or an address it left.
   * When we know none of its circuits, the lookup starts beside the dial on its own addresses
   * (after the direct dial's head start, or at once when that fails), and what the lookup
   * brings that we did not know is dialled in the race: a dead address, whose dial waits for
   * a timeout, no longer holds the dial up. When a dial on known addresses fails, the peer is
   * looked up and, if that brought addresses we did not know, dialled once more (go-libp2p's
   * routed host does the same); else the dial's own error stands.
   */
  private async lookUpAndDial (peer: PeerId, options: AbortOptions): Promise<{ conn: Connection, directAttempt?: () => DirectAttemptState }> {
    const started = Date.now()
    if (!await this.knowsDialableAddresses(peer)) {
      // addresses the policy refuses are looked past when there is a DHT server to ask; when the
      // lookup cannot help, the dial on them says which setting refused them
      const refused = (await this.knownMultiaddrs(peer)).length > 0
      if (!refused || routingTableSize(this.libp2p.services.dht) > 0) {
        await this.find(peer, options).catch((err: Error) => {
          if (!refused) throw err
          log('connect %p: no lookup result (%s); dialling the addresses we know', peer, err.message.split('\n')[0])
        })
        log('connect %p: lookup done after %d ms', peer, Date.now() - started)
      }
      return await this.dialKnown(peer, started, options)
    }
    const known = await this.knownMultiaddrs(peer)
    const before = new Set(known.map(String))
    const own = ownAddresses(known)
    if (!known.some(a => isCircuitAddress(a)) && own.length > 0 && routingTableSize(this.libp2p.services.dht) > 0) {
      const conn = await this.race(peer, own, async (signal) => this.dialLookedUp(peer, before, signal), options)
      log('connect %p: %s connection after %d ms: %a (direct attempt: %s)', peer, isDirect(conn.conn) ? 'direct' : 'relayed', Date.now() - started, conn.conn.remoteAddr, conn.directAttempt())
      return conn
    }
    try {
      return await this.dialKnown(peer, started, options)
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      log('connect %p: the addresses we knew failed (%s): looking it up', peer, (err as Error).message.split('\n')[0])
      await this.find(peer, options).catch(() => { throw err })
      if ((await this.knownMultiaddrs(peer)).every(a => before.has(a.toString()))) throw err
      log('connect %p: lookup done after %d ms, with new addresses', peer, Date.now() - started)
      return await this.dialKnown(peer, started, options)
    }
  }

  /**
   * The lookup's side of a race on a peer's own addresses: looks the peer up and dials what it
   * brought that we did not know (`before`): its circuits, else its new own addresses.
   */
  private async dialLookedUp (peer: PeerId, before: Set<string>, signal: AbortSignal): Promise<Connection> {
    const found = await this.find(peer, { signal })
    const fresh = found.addresses.filter(a => !before.has(a)).map(a => multiaddr(a))
    const circuits = await this.dialableCircuits(peer, fresh)
    if (circuits.length > 0) return this.dialCircuits(circuits, signal)
    const own = ownAddresses(fresh)
    if (own.length > 0) return this.dialOwn(peer, own, signal)
    throw new Error('the lookup brought no address we did not know')
  }

  private async knownMultiaddrs (peer: PeerId): Promise<Multiaddr[]> {
    return (await this.libp2p.peerStore.get(peer).catch(() => undefined))?.addresses.map(a => a.multiaddr) ?? []
  }

  /** Dials the peer on what the peer store holds for it: its own addresses raced against its circuits. */
  private async dialKnown (peer: PeerId, started: number, options: AbortOptions): Promise<{ conn: Connection, directAttempt?: () => DirectAttemptState }> {
    const libp2p = this.libp2p
    const known = await this.knownMultiaddrs(peer)
    const circuits = await this.dialableCircuits(peer, known)
    const own = ownAddresses(known)
    if (circuits.length === 0 || own.length === 0) {
      const conn = await libp2p.dial(peer, options)
      log('connect %p: %s connection after %d ms: %a', peer, isDirect(conn) ? 'direct' : 'relayed', Date.now() - started, conn.remoteAddr)
      return { conn }
    }
    const conn = await this.race(peer, own, async (signal) => this.dialCircuits(circuits, signal), options)
    log('connect %p: %s connection after %d ms: %a (direct attempt: %s)', peer, isDirect(conn.conn) ? 'direct' : 'relayed', Date.now() - started, conn.conn.remoteAddr, conn.directAttempt())
    return conn
  }

  /**
   * The circuit addresses among `addrs`, with the peer's id. Circuits whose relay address the
   * gater would refuse (a peer's relay announced at 127.0.0.1 or a LAN address) are left out:
   * the circuit transport reuses our connection to that relay whatever address the circuit
   * names, and the connection would carry the bogus address (a ping to it, or any later dial
   * by it, is then refused).
   */
  private async dialableCircuits (peer: PeerId, addrs: Multiaddr[]): Promise<Multiaddr[]> {
    const { connectionGater } = this.libp2p.services.internals
    const circuits: Multiaddr[] = []
    for (const a of addrs.filter(a => isCircuitAddress(a))) {
      const relayPart = multiaddr(a.toString().split('/p2p-circuit')[0] ?? '')
      if (await connectionGater.denyDialMultiaddr?.(relayPart) === true) continue
      circuits.push(withPeer(a, peer))
    }
    return circuits
  }

  /**
   * Dials circuit addresses one by one, at most MAX_RACE_DIALS, through the connection manager:
   * a circuit dialled past it (transportManager.dial) was seen to lose the peer's DCUtR answer
   * in the lab (the peer's stream closed unread). Fails with every dial's reason.
   */
  private async dialCircuits (circuits: Multiaddr[], signal: AbortSignal): Promise<Connection> {
    const errors: Error[] = []
    for (const circuit of circuits.slice(0, MAX_RACE_DIALS)) {
      try {
        return await this.libp2p.dial(circuit, { signal })
      } catch (err) {
        errors.push(err as Error)
        if (signal.aborted) break
      }
    }
    throw new AggregateError(errors, errors.map(e => e.message.split('\n')[0]).join('; '))
  }

  /**
   * Happy eyeballs: the direct dial (the peer's own addresses, see dialOwn) starts now; the
   * other one (`second`: its circuit addresses, see dialCircuits, or a lookup and what it
   * brings, see dialLookedUp) starts after DIRECT_HEAD_START_MS or as soon as the direct dial
   * fails. The first connection returns; a direct dial that loses goes on in the background
   * (libp2p prefers the direct connection once it is open, and the hole punch goes on over the
   * relayed one).
   */
  private async race (peer: PeerId, own: Multiaddr[], second: (signal: AbortSignal) => Promise<Connection>, options: AbortOptions): Promise<{ conn: Connection, directAttempt: () => DirectAttemptState }> {
    let state: DirectAttemptState = 'pending'
    const directAttempt = (): DirectAttemptState => state
    const started = Date.now()
    // not tied to the caller's signal: a direct connection that comes after the relayed one still replaces it
    const direct = this.dialOwn(peer, own, AbortSignal.timeout(DIRECT_TRY_TIMEOUT_MS))
    direct.then((conn) => {
      state = 'connected'
      log('connect %p: direct dial connected after %d ms: %a', peer, Date.now() - started, conn.remoteAddr)
    }, (err: Error) => {
      state = 'failed'
      log('connect %p: direct dial failed after %d ms - %s', peer, Date.now() - started, err.message.split('\n')[0])
    })
    const relayedController = new AbortController()
    const relayed = (async (): Promise<Connection> => {
      await Promise.race([direct.then(() => {}, () => {}), sleep(DIRECT_HEAD_START_MS, relayedController.signal)])
      if (relayedController.signal.aborted) throw new Error('the direct dial won')
      log('connect %p: relayed dial starts after %d ms', peer, Date.now() - started)
      const linked = linkSignals([relayedController.signal, options.signal ?? AbortSignal.timeout(FIND_PEER_TIMEOUT_MS)])
      try {
        return await second(linked.signal)
      } finally {
        linked.dispose()
      }
    })()
    try {
      const conn = await Promise.any([direct, relayed])
      if (isDirect(conn)) relayedController.abort()
      return { conn, directAttempt }
    } catch (err) {
      relayedController.abort()
      // the relayed dial's reason is the one to show when there was one, else the direct dial's (e.g. DialDeniedError)
      const [directErr, relayedErr] = (err as AggregateError).errors as Error[]
      const relayedErrors = relayedErr instanceof AggregateError ? relayedErr.errors : []
      throw relayedErrors.length > 0 ? relayedErr : directErr
    }
  }

  /**
   * Dials a peer's own addresses in parallel, straight through the transports: libp2p's dial
   * queue would join this dial to any other one under way to the peer (a relayed one), so the
   * gater is asked here as the queue would. At most MAX_RACE_DIALS addresses (a hostile peer
   * may list many); the first connection wins and the other dials stop.
   */
  private async dialOwn (peer: PeerId, own: Multiaddr[], signal: AbortSignal): Promise<Connection> {
    const { transportManager, connectionGater } = this.libp2p.services.internals
    if (await connectionGater.denyDialPeer?.(peer) === true) throw new Error(`the connection gater denies dialling ${peer.toString()}`)
    const dialable: Multiaddr[] = []
    for (const addr of own) {
      if (dialable.length >= MAX_RACE_DIALS) break
      const full = withPeer(addr, peer)
      if (transportManager.dialTransportForMultiaddr(full) == null) continue
      if (await connectionGater.denyDialMultiaddr?.(full) === true) continue
      dialable.push(full)
    }
    if (dialable.length === 0) throw new Error('every own address of the peer is denied (private, loopback or link-local) or has no transport')
    const losers = new AbortController()
    const both = linkSignals([signal, losers.signal])
    try {
      return await Promise.any(dialable.map(async addr => transportManager.dial(addr, { signal: both.signal })))
    } catch (err) {
      const errors = err instanceof AggregateError ? err.errors as Error[] : [err as Error]
      throw new Error(errors.map(e => e.message.split('\n')[0]).join('; '), { cause: err })
    } finally {
      losers.abort()
      both.dispose()
    }
  }

  /** Whether the peer store holds an address of the peer that we would dial: a circuit, or one the dial policy allows. */
  private async knowsDialableAddresses (peer: PeerId): Promise<boolean> {
    const known = await this.knownMultiaddrs(peer)
    const { connectionGater } = this.libp2p.services.internals
    for (const a of known) {
      if (isCircuitAddress(a)) return true
      if (await connectionGater.denyDialMultiaddr?.(a) !== true) return true
    }
    return false
  }

  /**
   * Given an open relayed connection, tries the peer's own addresses (a peer on our LAN, or
   * one with a public address): the direct dial gets DIRECT_HEAD_START_MS, then the relayed
   * connection returns and the direct dial goes on in the background.
   */
  private async tryDirect (relayed: Connection): Promise<{ conn: Connection, directAttempt?: () => DirectAttemptState }> {
    const peer = relayed.remotePeer
    const own = ownAddresses(await this.knownMultiaddrs(peer))
    if (own.length === 0) return { conn: relayed }
    let state: DirectAttemptState = 'pending'
    const direct = this.dialOwn(peer, own, AbortSignal.timeout(DIRECT_TRY_TIMEOUT_MS))
      .then((conn) => { state = isDirect(conn) ? 'connected' : 'failed'; return conn }, (err: Error) => {
        state = 'failed'
        log('no direct path to %p beside the relay - %e', peer, err)
        return undefined
      })
    const headStart = new AbortController()
    const conn = await Promise.race([direct, sleep(DIRECT_HEAD_START_MS, headStart.signal).then(() => undefined, () => undefined)])
    headStart.abort()
    return { conn: conn != null && isDirect(conn) ? conn : relayed, directAttempt: () => state }
  }

  /**
   * Round trips to a peer, like `tailscale ping`: each reply says which path it took and
   * whether the path changed since the previous reply. With `untilDirect` (the default)
   * it stops at the first reply over a direct connection, so a relayed peer is pinged
   * until the hole punch upgraded the path, or `count` ran out.
   */
  async * ping (peer: string | PeerId, options: AbortOptions & { count?: number, intervalMs?: number, untilDirect?: boolean } = {}): AsyncGenerator<PingReply> {
    const libp2p = this.libp2p
    const id = parsePeerId(peer)
    const count = options.count ?? DEFAULT_PING_COUNT
    let previous: PingReply['path'] | undefined
    for (let seq = 1; seq <= count; seq++) {
      if (seq > 1) await sleep(options.intervalMs ?? 1000, options.signal)
      const conn = await this.connect(id, options).catch((err: Error) => {
        if (err instanceof PeerNotFoundError) throw err
        throw new DialFailedError(id.toString(), err.message.split('\n')[0] ?? String(err), { cause: err })
      })
      const rttMs = await libp2p.services.ping.ping(conn.remoteAddr, { ...options, runOnLimitedConnection: true })
      const path = isDirect(conn) ? 'direct' : 'relayed'
      const relay = path === 'relayed' ? relayOf(conn.remoteAddr) : undefined
      yield { seq, rttMs, path, remoteAddress: conn.remoteAddr.toString(), ...(relay != null ? { via: relay } : {}), changed: previous != null && previous !== path }
      previous = path
      if (path === 'direct' && options.untilDirect !== false) return
    }
  }

  connections (): ConnectionInfo[] {
    return this.libp2p.getConnections().map(conn => ({
      peerId: conn.remotePeer.toString(),
      remoteAddress: conn.remoteAddr.toString(),
      direct: isDirect(conn),
      direction: conn.direction,
      openedAt: new Date(conn.timeline.open).toISOString(),
      rttMs: conn.rtt ?? null,
      ...(isDirect(conn) ? {} : { whyRelayed: this.whyRelayed(conn.remotePeer.toString()) })
    }))
  }

  async status (): Promise<NodeStatus> {
    const libp2p = this.libp2p
    const { services } = libp2p
    return assembleStatus({
      node: { peerId: libp2p.peerId.toString(), network: this.config.network, version: packageVersion(), startedAt: (this.startedAt ?? new Date()).toISOString() },
      reachability: services.reachability.status(),
      portMapper: { reachability: services.portMapper.reachability(), mappings: services.portMapper.portMappings() },
      addresses: { listen: services.internals.transportManager.getAddrs().map(String), announced: libp2p.getMultiaddrs().map(String) },
      reservations: services.relayClient.reservations(),
      holePunch: { dialPort: this.dialPort, attempts: holePunchAttemptsOf(services.pathUpgrade.status().attempts) },
      udp: services.udxPunch.status(),
      udpPunch: { enabled: services.udpPunch.enabled, stunServers: services.udpPunch.stunServers, attempts: udpAttemptsOf(services.pathUpgrade.status().attempts) },
      stun: services.stun?.status() ?? null,
      rendezvous: services.rendezvous.status(),
      knownPeers: services.knownPeers.status(),
      connections: this.connections(),
      dht: services.dhtMode.status(),
      messages: { outbox: await this.outbox(), usage: this.requireMessaging().usage() }
    })
  }

  /** `burrow nat`: NAT behaviour, port-mapping protocols, mappings, reachability and advice. */
  async nat (): Promise<NatReport & { udp: UdpStatus }> {
    const status = await this.status()
    return { ...buildNatReport(this.libp2p.services.portMapper, status), udp: status.udp }
  }

  /**
   * `burrow doctor`: asks the relays (bootstrap peers and reserved relays) for our TCP and
   * UDP addresses, the gateway for its mapping protocols, and checks hairpinning.
   */
  async doctor (options: AbortOptions = {}): Promise<DoctorReport & { udx: UdpStatus }> {
    const libp2p = this.libp2p
    const relays = [...libp2p.services.knownPeers.bootstrapPeers, ...libp2p.services.relayClient.reservations().map(r => r.relay)]
    // the UDX socket asks its STUN sources again, beside the doctor's own probes
    const [report] = await Promise.all([runDoctor({
      libp2p,
      observed: libp2p.services.reachability.observed,
      relays,
      stunPort: this.config.stunPort,
      portMappingMode: this.config.portMapping
    }, options), libp2p.services.udxPunch.checkMapping().catch(() => undefined)])
    return { ...report, udx: libp2p.services.udxPunch.status() }
  }

  /** Why a relayed connection has not become direct, in one line. */
  private whyRelayed (peer: string): string {
    const libp2p = this.libp2p
    const path = libp2p.services.pathUpgrade
    return whyRelayedOf({
      holePunch: this.config.holePunch,
      strategies: path.status().strategies.length,
      failures: Object.values(path.machine.peer(peer)?.failures ?? {}),
      udx: libp2p.services.udxPunch.failureFor(peer)
    })
  }

  /** Hole punch attempts, newest last. */
  holePunchAttempts (): HolePunchAttempt[] {
    return holePunchAttemptsOf(this.libp2p.services.pathUpgrade.status().attempts)
  }

  /**
   * `burrow dial PEERID --wait-direct S`: the stages as they happen — lookup, the first
   * connection (relayed or direct), each punch attempt, and the direct connection.
   */
  async * dialStages (target: string, waitDirectMs: number, options: AbortOptions = {}): AsyncGenerator<DialStage> {
    const libp2p = this.libp2p
    const started = Date.now()
    const parsed = parseTarget(target)
    const peer = parsed.peerId
    const queue: DialStage[] = []
    let wake: (() => void) | undefined
    const push = (s: DialStage): void => { queue.push(s); wake?.() }
    const onAttempt = (evt: CustomEvent<HolePunchAttempt>): void => {
      if (peer == null || evt.detail.peer !== peer.toString()) return
      push({ stage: evt.detail.outcome === 'direct' ? 'direct' : 'punch-attempt', elapsedMs: Date.now() - started, attempt: evt.detail.attempt, detail: evt.detail.detail, rttMs: evt.detail.rttMs ?? undefined })
    }
    const onFailed = (evt: CustomEvent<{ peer: string, reason: string }>): void => {
      if (peer != null && evt.detail.peer === peer.toString()) push({ stage: 'no-direct', elapsedMs: Date.now() - started, detail: evt.detail.reason })
    }
    // the UDX punch's attempts (issue 15), one stage each; a direct one is followed by the `direct` stage
    const udxSeen = new Set<UdxAttemptRecord>()
    const udxStage = (r: UdxAttemptRecord): DialStage => ({ stage: 'udx-attempt', elapsedMs: Date.now() - started, detail: r.detail, method: r.method, outcome: r.outcome, probes: r.probes, sockets: r.sockets, ms: r.ms, rttMs: r.rttMs ?? undefined })
    const onUdx = (evt: CustomEvent<UdxAttemptRecord>): void => {
      if (peer == null || evt.detail.peer !== peer.toString() || udxSeen.has(evt.detail)) return
      udxSeen.add(evt.detail)
      push(udxStage(evt.detail))
    }
    libp2p.services.udxPunch.addEventListener('udxpunch:attempt', onUdx)
    libp2p.services.holePunch.addEventListener('holepunch:attempt', onAttempt)
    libp2p.services.holePunch.addEventListener('holepunch:failed', onFailed)
    try {
      if (peer != null && parsed.multiaddr == null && bestConnection(libp2p.getConnections(peer)) == null) {
        const known = await libp2p.peerStore.get(peer).then(p => p.addresses.length > 0, () => false)
        if (!known) {
          yield { stage: 'lookup', elapsedMs: 0, detail: 'searching the DHT' }
          const found = await this.find(peer, options)
          yield { stage: 'found', elapsedMs: Date.now() - started, detail: `${found.addresses.length} addresses via ${found.source}` }
        }
      }
      const result = await this.dial(target, options)
      yield { stage: result.direct ? 'direct' : 'relayed', elapsedMs: Date.now() - started, detail: result.remoteAddress }
      if (result.direct || waitDirectMs <= 0) return
      const deadline = Date.now() + waitDirectMs
      while (Date.now() < deadline) {
        while (queue.length > 0) {
          const s = queue.shift() as DialStage
          yield s
          if (s.stage === 'direct' || s.stage === 'no-direct') return
        }
        const direct = libp2p.getConnections(result.peerId === '' ? undefined : parsePeerId(result.peerId)).find(isDirect)
        if (direct != null) {
          // the UDX record may land just after its connection opened: show it before `direct`
          for (const r of libp2p.services.udxPunch.status().attempts) {
            if (r.peer !== result.peerId || udxSeen.has(r) || Date.parse(r.startedAt) < started - 1000) continue
            udxSeen.add(r)
            yield udxStage(r)
          }
          yield { stage: 'direct', elapsedMs: Date.now() - started, detail: direct.remoteAddr.toString() }
          return
        }
        await new Promise<void>(resolve => {
          wake = resolve
          setTimeout(resolve, 200)
        })
        wake = undefined
      }
      yield { stage: 'no-direct', elapsedMs: Date.now() - started, detail: `no direct connection within ${Math.round(waitDirectMs / 1000)} s: ${this.whyRelayed(result.peerId)}` }
    } finally {
      libp2p.services.holePunch.removeEventListener('holepunch:attempt', onAttempt)
      libp2p.services.holePunch.removeEventListener('holepunch:failed', onFailed)
      libp2p.services.udxPunch.removeEventListener('udxpunch:attempt', onUdx)
    }
  }

  /**
   * Events this node recorded after sequence number `after` (0: all it keeps), oldest
   * first; `lastSeq` is the newest number given so far. New ones arrive as 'event'.
   */
  recentEvents (after = 0): BurrowEvent[] {
    return this.ring.since(after)
  }

  get lastEventSeq (): number {
    return this.ring.lastSeq
  }

  private emitEvent<K extends BurrowEventType> (type: K, data: BurrowEventPayloads[K]): void {
    const event = this.ring.record(type, data)
    this.safeDispatch('event', event)
  }

  private requireMessaging (): Messaging {
    if (this.messaging == null) throw new NotStartedError()
    return this.messaging
  }

  private forward<K extends 'message' | 'message:delivered' | 'message:failed'> (messaging: Messaging, type: K): void {
    const handler = (evt: Event): void => { this.safeDispatch(type, (evt as CustomEvent).detail) }
    messaging.addEventListener(type, handler)
    this.unsubscribe.push(() => { messaging.removeEventListener(type, handler) })
  }

  private safeDispatch (type: keyof BurrowNodeEvents, detail: unknown): void {
    try {
      this.dispatchEvent(new CustomEvent(type, { detail }))
    } catch (err) {
      log.error('a %s listener threw - %e', type, err)
    }
  }
}

/** Not through a relay: a WebRTC connection (`…/p2p-circuit/webrtc/…`) only used one for signalling. */
export function isDirect (conn: Connection): boolean {
  return !isRelayed(conn)
}

/** The open connection to prefer: a direct one over a relayed one. */
export function bestConnection (conns: Connection[]): Connection | undefined {
  const open = conns.filter(c => c.status === 'open')
  return open.find(isDirect) ?? open[0]
}

async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason) }, { once: true })
  })
}

export async function createNode (options: CreateNodeOptions = {}): Promise<BurrowNode> {
  return new BurrowNode(options)
}

/** Whether a daemon answers on HOME's control socket. */
async function daemonAnswers (home: string): Promise<boolean> {
  return new Promise(resolve => {
    const socket = connect(join(home, SOCKET_FILE))
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { resolve(false) })
  })
}

/**
 * Which listen addresses are taken, told in one line with the fix (libp2p's own error
 * names no address and advises a transport-manager setting).
 */
async function listenFailure (listen: string[], cause: Error): Promise<ListenFailedError> {
  const taken: string[] = []
  for (const addr of listen) {
    const m = /^\/ip([46])\/([^/]+)\/tcp\/(\d+)$/.exec(addr)
    if (m?.[2] == null || Number(m[3]) === 0) continue
    const code = await new Promise<string | undefined>(resolve => {
      const server = createServer()
      server.once('error', (e: NodeJS.ErrnoException) => { resolve(e.code) })
      server.listen({ host: m[2], port: Number(m[3]), ipv6Only: m[1] === '6' }, () => { server.close(() => { resolve(undefined) }) })
    })
    if (code === 'EADDRINUSE') taken.push(addr)
  }
  if (taken.length > 0) {
    const port = Number(/\/tcp\/(\d+)$/.exec(taken[0] ?? '')?.[1] ?? 4001)
    return new ListenFailedError(taken, `the port is in use by another program (kubo and other IPFS nodes use 4001 too); stop it, or pass --listen ${(taken[0] ?? '').replace(/\/tcp\/\d+$/, `/tcp/${port + 1}`)}`, { cause })
  }
  return new ListenFailedError(listen, `${cause.message.split('\n')[0] ?? ''}; check the addresses, or pass other --listen addresses`, { cause })
}

/** How long find() keeps asking when the answers hold only addresses nobody elsewhere can dial. */
const FIND_USEFUL_GRACE_MS = 3_000
/** the longest pause between two asks; the first ask again is at once, then this doubling from FIND_RETRY_FIRST_MS */
const FIND_RETRY_MS = 300
/** the first pause after an immediate second ask: a round trip to a near DHT server, not a busy loop */
const FIND_RETRY_FIRST_MS = 50

/** A peer's own addresses, to dial directly: not circuits, not loopback. */
function ownAddresses (addrs: Multiaddr[]): Multiaddr[] {
  return addrs.filter(a => !isCircuitAddress(a) && !/^\/ip4\/127\.|^\/ip6\/::1\//.test(a.toString()))
}

function withPeer (addr: Multiaddr, peer: PeerId): Multiaddr {
  return addr.toString().endsWith(`/p2p/${peer.toString()}`) ? addr : addr.encapsulate(`/p2p/${peer.toString()}`)
}

/** Whether a peer's addresses include one that a peer elsewhere can use: a relay circuit, or a public IP. */
function usefulAddresses (addresses: string[]): boolean {
  return addresses.some(a => {
    if (isRelayed({ remoteAddr: multiaddr(a) })) return true
    const ip = ipOf(multiaddr(a))
    return ip == null || classifyIp(ip.ip) === 'public'
  })
}

