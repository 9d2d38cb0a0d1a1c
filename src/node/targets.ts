import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidMultiaddrError, InvalidPeerIdError } from './errors.js'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Parses a PeerId given by a user, with a one-line error when it is not one. */
export function parsePeerId (value: string | PeerId): PeerId {
  if (typeof value !== 'string') return value
  try {
    return peerIdFromString(value.trim())
  } catch {
    throw new InvalidPeerIdError(value)
  }
}

/** A dial target: a multiaddr (starts with '/') or a PeerId. */
export function parseTarget (value: string): { peerId?: PeerId, multiaddr?: Multiaddr } {
  const v = value.trim()
  if (v.startsWith('/')) {
    let ma: Multiaddr
    try {
      ma = multiaddr(v)
    } catch (err) {
      throw new InvalidMultiaddrError(v, (err as Error).message)
    }
    const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
    return { multiaddr: ma, peerId: id != null ? parsePeerId(id) : undefined }
  }
  return { peerId: parsePeerId(v) }
}
