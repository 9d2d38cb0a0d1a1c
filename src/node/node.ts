import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { TypedEventEmitter } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { loadConfig, resolveHome } from '../config/index.js'
import { loadOrCreateIdentity } from '../identity/index.js'
import { KnownPeers, readBootstrapFile, dhtProtocolFor, FIND_PEER_TIMEOUT_MS } from '../swarm/index.js'
import { Messaging } from '../messaging/index.js'
import { packageVersion } from '../package/index.js'
import { assembleLibp2p } from './libp2p.js'
import { buildNatReport } from '../portmap/index.js'
import type { NatReport } from '../portmap/index.js'
import { parsePeerId, parseTarget } from './targets.js'
import { DialFailedError, HomeInUseError, NotStartedError, PeerNotFoundError } from './errors.js'
import type { BurrowConfig, ConfigOverrides } from '../config/index.js'
import type { BurrowLibp2p } from './libp2p.js'
import type { BurrowNodeEvents, ConnectionInfo, DialResult, FindResult, NodeStatus, PingReply } from './types.js'
import type { InboxMessage, OutboxEntry, SendResult } from '../messaging/index.js'
import type { AbortOptions, Connection, PeerId } from '@libp2p/interface'

const log = logger('burrow:node')

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
export class BurrowNode extends TypedEventEmitter<BurrowNodeEvents> {
  readonly home: string
  private readonly options: CreateNodeOptions
  private _config?: BurrowConfig
  private _libp2p?: BurrowLibp2p
  private datastore?: LevelDatastore
  private messaging?: Messaging
  private knownPeers?: KnownPeers
  private startedAt?: Date
  /** the bootstrap peers this run started with (empty: the first node of a swarm) */
  bootstrapPeers: string[] = []
  private readonly unsubscribe: Array<() => void> = []

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

  get isStarted (): boolean {
    return this.startedAt != null
  }

  /** Reads config and identity, opens the datastore and starts libp2p and messaging. Safe to call twice. */
  async start (): Promise<void> {
    if (this.startedAt != null) return
    const config = await loadConfig({ home: this.home, env: this.options.env ?? {}, flags: this.options.config })
    const identity = await loadOrCreateIdentity(this.home)
    const bootstrapList = config.bootstrap ?? (await readBootstrapFile(config.network)).peers

    const datastore = new LevelDatastore(join(this.home, 'datastore'))
    try {
      await datastore.open()
    } catch (err) {
      if (/lock/i.test(String((err as Error).cause ?? err))) throw new HomeInUseError(this.home)
      throw err
    }

    try {
      const libp2p = await assembleLibp2p({ config, privateKey: identity.privateKey, datastore, bootstrapList })
      const messaging = new Messaging({ libp2p, datastore }, {
        maxMessageBytes: config.messages.maxBytes,
        outboxTtlMs: config.messages.outboxTtlSeconds * 1000,
        retryIntervalMs: config.messages.retryIntervalSeconds * 1000,
        maxInboundPerSecond: config.messages.maxInboundPerSecond
      })
      this.forward(messaging, 'message')
      this.forward(messaging, 'message:delivered')
      this.forward(messaging, 'message:failed')
      const onConnect = (evt: CustomEvent<PeerId>): void => { this.safeDispatch('peer:connect', evt.detail.toString()) }
      const onDisconnect = (evt: CustomEvent<PeerId>): void => { this.safeDispatch('peer:disconnect', evt.detail.toString()) }
      libp2p.addEventListener('peer:connect', onConnect)
      libp2p.addEventListener('peer:disconnect', onDisconnect)
      this.unsubscribe.push(() => {
        libp2p.removeEventListener('peer:connect', onConnect)
        libp2p.removeEventListener('peer:disconnect', onDisconnect)
      })

      await libp2p.start()
      await messaging.start()
      const knownPeers = new KnownPeers(libp2p)
      knownPeers.start()

      this._config = config
      this.bootstrapPeers = bootstrapList
      this._libp2p = libp2p
      this.datastore = datastore
      this.messaging = messaging
      this.knownPeers = knownPeers
      this.startedAt = new Date()
      log('started %p on %s', libp2p.peerId, config.network)

      // rejoin through peers of earlier runs; does not hold up start()
      void knownPeers.reconnect().catch(err => { log.error('reconnect failed - %e', err) })
    } catch (err) {
      await this.stop().catch(() => {})
      await datastore.close().catch(() => {})
      throw err
    }
  }

  /** Stops messaging and libp2p and closes the datastore. Safe to call twice. */
  async stop (): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off()
    this.knownPeers?.stop()
    await this.messaging?.stop()
    await this._libp2p?.stop()
    await this.datastore?.close()
    this.messaging = undefined
    this.knownPeers = undefined
    this._libp2p = undefined
    this.datastore = undefined
    this.startedAt = undefined
  }

  /** Sends one message; resolves once the peer acknowledged it (see Messaging.send). */
  async send (to: string | PeerId, body: string | Uint8Array, options: SendOptions = {}): Promise<SendResult> {
    const messaging = this.requireMessaging()
    const peer = parsePeerId(to)
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

  async outbox (): Promise<OutboxEntry[]> {
    return this.requireMessaging().outbox()
  }

  /** Finds the addresses of a peer through the DHT. */
  async find (peer: string | PeerId, options: AbortOptions = {}): Promise<FindResult> {
    const libp2p = this.libp2p
    const id = parsePeerId(peer)
    const started = Date.now()
    const signal = options.signal ?? AbortSignal.timeout(FIND_PEER_TIMEOUT_MS)
    try {
      let info: { multiaddrs: unknown[] } | undefined
      let answeredBy = ''
      // useCache false: ask the network even when the peer store knows an address
      for await (const evt of libp2p.services.dht.findPeer(id, { signal, useCache: false })) {
        if (evt.name === 'FINAL_PEER') {
          info = evt.peer
          answeredBy = evt.from.toString()
          break
        }
      }
      if (info == null) throw new PeerNotFoundError(id.toString(), 'no DHT server knows it')
      return { peerId: id.toString(), addresses: info.multiaddrs.map(String), source: 'dht', answeredBy, durationMs: Date.now() - started }
    } catch (err) {
      if (err instanceof PeerNotFoundError) throw err
      if (signal.aborted) throw new PeerNotFoundError(id.toString(), `no answer within ${Math.round((Date.now() - started) / 1000)} s`)
      throw new PeerNotFoundError(id.toString(), (err as Error).message)
    }
  }

  /** Connects to a PeerId (found through the DHT when needed) or a multiaddr. */
  async dial (target: string | PeerId, options: AbortOptions = {}): Promise<DialResult> {
    const libp2p = this.libp2p
    const parsed = typeof target === 'string' ? parseTarget(target) : { peerId: target }
    const started = Date.now()
    const label = typeof target === 'string' ? target : target.toString()
    let conn: Connection
    try {
      if (parsed.multiaddr != null) {
        conn = await libp2p.dial(parsed.multiaddr, options)
      } else if (parsed.peerId != null) {
        const existing = bestConnection(libp2p.getConnections(parsed.peerId))
        conn = existing ?? await libp2p.dial(parsed.peerId, options)
      } else {
        throw new DialFailedError(label, 'nothing to dial')
      }
    } catch (err) {
      if (err instanceof DialFailedError) throw err
      throw new DialFailedError(label, (err as Error).message.split('\n')[0] ?? String(err), { cause: err })
    }
    return {
      peerId: conn.remotePeer.toString(),
      remoteAddress: conn.remoteAddr.toString(),
      direct: isDirect(conn),
      durationMs: Date.now() - started
    }
  }

  /** Round trips to a peer; each reply says which path it took. */
  async * ping (peer: string | PeerId, options: AbortOptions & { count?: number, intervalMs?: number } = {}): AsyncGenerator<PingReply> {
    const libp2p = this.libp2p
    const id = parsePeerId(peer)
    const count = options.count ?? 4
    for (let seq = 1; seq <= count; seq++) {
      if (seq > 1) await sleep(options.intervalMs ?? 1000, options.signal)
      let conn = bestConnection(libp2p.getConnections(id))
      if (conn == null) {
        conn = await libp2p.dial(id, options).catch((err: Error) => {
          throw new DialFailedError(id.toString(), err.message.split('\n')[0] ?? String(err), { cause: err })
        })
      }
      const rttMs = await libp2p.services.ping.ping(conn.remoteAddr, { ...options, runOnLimitedConnection: true })
      yield { seq, rttMs, path: isDirect(conn) ? 'direct' : 'relayed', remoteAddress: conn.remoteAddr.toString() }
    }
  }

  connections (): ConnectionInfo[] {
    return this.libp2p.getConnections().map(conn => ({
      peerId: conn.remotePeer.toString(),
      remoteAddress: conn.remoteAddr.toString(),
      direct: isDirect(conn),
      direction: conn.direction,
      openedAt: new Date(conn.timeline.open).toISOString(),
      rttMs: conn.rtt ?? null
    }))
  }

  async status (): Promise<NodeStatus> {
    const libp2p = this.libp2p
    const config = this.config
    const announced = libp2p.getMultiaddrs().map(String)
    const outbox = await this.outbox()
    const dht = libp2p.services.dht
    const internals = libp2p.services.internals
    const portMapper = libp2p.services.portMapper
    return {
      peerId: libp2p.peerId.toString(),
      network: config.network,
      version: packageVersion(),
      startedAt: (this.startedAt ?? new Date()).toISOString(),
      ...(portMapper.reachability() ?? { reachability: 'unknown', reachabilitySource: 'none' }),
      nat: { mapping: 'unknown', publicAddresses: [] },
      addresses: {
        listen: internals.transportManager.getAddrs().map(String),
        announced: announced.filter(a => !a.includes('/p2p-circuit')),
        observed: internals.addressManager.getObservedAddrs().map(String),
        relayed: announced.filter(a => a.includes('/p2p-circuit'))
      },
      portMappings: portMapper.portMappings(),
      reservations: [],
      connections: this.connections(),
      dht: { protocol: dhtProtocolFor(config.network), mode: dht.getMode(), routingTable: 0 },
      messages: {
        outboxPending: outbox.filter(e => e.state === 'pending').length,
        outboxFailed: outbox.filter(e => e.state === 'failed').length
      }
    }
  }

  /** `burrow nat`: NAT behaviour, port-mapping protocols, mappings, reachability and advice. */
  async nat (): Promise<NatReport> {
    return buildNatReport(this.libp2p.services.portMapper, await this.status())
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

export function isDirect (conn: Connection): boolean {
  return conn.limits == null && !conn.remoteAddr.toString().includes('/p2p-circuit')
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
