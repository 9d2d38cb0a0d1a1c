import { RECONNECT_ENOUGH, RECONNECT_MAX_PEERS, LAST_SEEN_KEY } from './constants.js'
import type { PeerId, AbortOptions, ComponentLogger, Logger, Libp2pEvents, PeerStore, Startable, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

export interface KnownPeersComponents {
  peerId: PeerId
  peerStore: Pick<PeerStore, 'merge' | 'all'>
  connectionManager: Pick<ConnectionManager, 'openConnection'>
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface KnownPeersInit {
  /** the bootstrap list this run started with (multiaddrs ending in /p2p/PEERID) */
  bootstrap: string[]
  /** dial the peers of earlier runs once started (off in tests of the bookkeeping alone) */
  reconnect?: boolean
}

export interface KnownPeersStatus {
  /** bootstrap peers in the list, and how many of them we have connected to since start */
  bootstrap: { peers: number, answered: number }
}

/**
 * Remembers when we were last connected to each peer (in the peer store, which lives
 * in the datastore on disk), so a restarted node can rejoin without its bootstrap list.
 */
export class KnownPeers implements Startable {
  private readonly components: KnownPeersComponents
  private readonly init: KnownPeersInit
  private readonly log: Logger
  private readonly bootstrapIds: Set<string>
  private readonly bootstrapAnswered = new Set<string>()
  private readonly onConnect: (evt: CustomEvent<PeerId>) => void

  constructor (components: KnownPeersComponents, init: KnownPeersInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('burrow:swarm:known-peers')
    this.bootstrapIds = new Set(init.bootstrap.map(b => /\/p2p\/([^/]+)$/.exec(b)?.[1]).filter((id): id is string => id != null))
    this.onConnect = (evt) => {
      const id = evt.detail.toString()
      if (this.bootstrapIds.has(id)) this.bootstrapAnswered.add(id)
      void this.touch(evt.detail)
    }
  }

  readonly [Symbol.toStringTag] = 'burrow:known-peers'

  start (): void {
    this.bootstrapAnswered.clear()
    this.components.events.addEventListener('peer:connect', this.onConnect)
  }

  /** Rejoins through peers of earlier runs; does not hold up start. */
  afterStart (): void {
    if (this.init.reconnect === false) return
    void this.reconnect().catch(err => { this.log.error('reconnect failed - %e', err) })
  }

  stop (): void {
    this.components.events.removeEventListener('peer:connect', this.onConnect)
  }

  /** The PeerIds of the bootstrap list (burrow doctor asks them). */
  get bootstrapPeers (): string[] {
    return [...this.bootstrapIds]
  }

  status (): KnownPeersStatus {
    return { bootstrap: { peers: this.bootstrapIds.size, answered: this.bootstrapAnswered.size } }
  }

  private async touch (peer: PeerId): Promise<void> {
    try {
      const now = new TextEncoder().encode(String(Date.now()))
      await this.components.peerStore.merge(peer, { metadata: { [LAST_SEEN_KEY]: now } })
    } catch (err) {
      this.log.error('could not record %p as seen - %e', peer, err)
    }
  }

  /** Dials the most recently seen peers of earlier runs; resolves with how many answered. */
  async reconnect (options: AbortOptions = {}): Promise<number> {
    const peers = await this.components.peerStore.all()
    const candidates = peers
      .filter(p => !p.id.equals(this.components.peerId) && p.addresses.length > 0 && p.metadata.has(LAST_SEEN_KEY))
      .map(p => ({ id: p.id, seen: Number(new TextDecoder().decode(p.metadata.get(LAST_SEEN_KEY))) }))
      .sort((a, b) => b.seen - a.seen)
      .slice(0, RECONNECT_MAX_PEERS)
    let connected = 0
    await Promise.all(candidates.map(async ({ id }) => {
      if (connected >= RECONNECT_ENOUGH) return
      try {
        await this.components.connectionManager.openConnection(id, options)
        connected++
      } catch (err) {
        this.log('known peer %p did not answer - %e', id, err)
      }
    }))
    this.log('reconnected to %d of %d known peers', connected, candidates.length)
    return connected
  }
}

export function knownPeers (init: KnownPeersInit): (components: KnownPeersComponents) => KnownPeers {
  return (components) => new KnownPeers(components, init)
}
