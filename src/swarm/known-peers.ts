import { logger } from '@libp2p/logger'
import { RECONNECT_ENOUGH, RECONNECT_MAX_PEERS, LAST_SEEN_KEY } from './constants.js'
import type { Libp2p, PeerId, AbortOptions } from '@libp2p/interface'

const log = logger('burrow:swarm:known-peers')

/**
 * Remembers when we were last connected to each peer (in the peer store, which lives
 * in the datastore on disk), so a restarted node can rejoin without its bootstrap list.
 */
export class KnownPeers {
  private readonly libp2p: Libp2p
  private readonly onConnect: (evt: CustomEvent<PeerId>) => void

  constructor (libp2p: Libp2p) {
    this.libp2p = libp2p
    this.onConnect = (evt) => { void this.touch(evt.detail) }
  }

  start (): void {
    this.libp2p.addEventListener('peer:connect', this.onConnect)
  }

  stop (): void {
    this.libp2p.removeEventListener('peer:connect', this.onConnect)
  }

  private async touch (peer: PeerId): Promise<void> {
    try {
      const now = new TextEncoder().encode(String(Date.now()))
      await this.libp2p.peerStore.merge(peer, { metadata: { [LAST_SEEN_KEY]: now } })
    } catch (err) {
      log.error('could not record %p as seen - %e', peer, err)
    }
  }

  /** Dials the most recently seen peers of earlier runs; resolves with how many answered. */
  async reconnect (options: AbortOptions = {}): Promise<number> {
    const peers = await this.libp2p.peerStore.all()
    const candidates = peers
      .filter(p => !p.id.equals(this.libp2p.peerId) && p.addresses.length > 0 && p.metadata.has(LAST_SEEN_KEY))
      .map(p => ({ id: p.id, seen: Number(new TextDecoder().decode(p.metadata.get(LAST_SEEN_KEY))) }))
      .sort((a, b) => b.seen - a.seen)
      .slice(0, RECONNECT_MAX_PEERS)
    let connected = 0
    await Promise.all(candidates.map(async ({ id }) => {
      if (connected >= RECONNECT_ENOUGH) return
      try {
        await this.libp2p.dial(id, options)
        connected++
      } catch (err) {
        log('known peer %p did not answer - %e', id, err)
      }
    }))
    log('reconnected to %d of %d known peers', connected, candidates.length)
    return connected
  }
}
