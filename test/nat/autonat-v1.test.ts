/**
 * A peer that speaks only AutoNAT v1 (go-libp2p before v2, kubo, older js-libp2p) gets
 * answers from a burrow node: the v1 server of @libp2p/autonat runs as a service (server
 * half only), over real daemons on loopback. A hostile peer cannot make it dial without
 * end: requests are throttled per peer.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { startDaemon, stopAll } from '../helpers/burrow.ts'
import type { Daemon } from '../helpers/burrow.ts'
import type { Libp2p } from '@libp2p/interface'

const AUTONAT_V1 = '/libp2p/autonat/1.0.0'

interface V1Message {
  type?: string
  dial?: { peer?: { id?: Uint8Array, addrs: Uint8Array[] } }
  dialResponse?: { status?: string, statusText?: string }
}
// the stock v1 protobuf codec (the package exports only its root)
const pb = await import(new URL('./pb/index.js', import.meta.resolve('@libp2p/autonat')).href) as { Message: { encode: (m: V1Message) => Uint8Array, decode: (b: Uint8Array) => V1Message } }

/** A v1-only peer: no AutoNAT v2, nothing of burrow. */
async function v1Peer (): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
}

/** One AutoNAT v1 DIAL request asking `server` to dial back `addrs` of peer `id`. */
async function askDial (peer: Libp2p, server: string, id: Uint8Array, addrs: Uint8Array[]): Promise<V1Message> {
  const stream = await peer.dialProtocol(multiaddr(server), AUTONAT_V1, { signal: AbortSignal.timeout(20_000) })
  const s = pbStream(stream).pb(pb.Message as unknown as Parameters<ReturnType<typeof pbStream>['pb']>[0])
  await s.write({ type: 'DIAL', dial: { peer: { id, addrs } } }, { signal: AbortSignal.timeout(20_000) })
  const res = await s.read({ signal: AbortSignal.timeout(20_000) }) as V1Message
  await stream.close().catch(() => {})
  return res
}

describe('AutoNAT v1 server', () => {
  let node: Daemon
  const peers: Libp2p[] = []

  before(async () => {
    node = await startDaemon('autonat-v1')
  })
  after(async () => {
    await Promise.all(peers.map(async p => p.stop()))
    await stopAll()
  })

  it('answers a v1-only peer: a private address is refused for dial-back, with a status saying so', async () => {
    const peer = await v1Peer()
    peers.push(peer)
    const res = await askDial(peer, node.address, peer.peerId.toMultihash().bytes, peer.getMultiaddrs().map(ma => ma.bytes))
    assert.equal(res.type, 'DIAL_RESPONSE')
    assert.equal(res.dialResponse?.status, 'E_DIAL_REFUSED')
  })

  it('answers E_BAD_REQUEST when a peer asks it to dial another peer', async () => {
    const peer = await v1Peer()
    const other = await v1Peer()
    peers.push(peer, other)
    const res = await askDial(peer, node.address, other.peerId.toMultihash().bytes, other.getMultiaddrs().map(ma => ma.bytes))
    assert.equal(res.dialResponse?.status, 'E_BAD_REQUEST')
  })

  it('throttles one peer to 3 requests a minute (its 4th stream is reset) and keeps answering others', async () => {
    const peer = await v1Peer()
    peers.push(peer)
    const id = peer.peerId.toMultihash().bytes
    const addrs = peer.getMultiaddrs().map(ma => ma.bytes)
    for (let i = 0; i < 3; i++) assert.equal((await askDial(peer, node.address, id, addrs)).dialResponse?.status, 'E_DIAL_REFUSED')
    await assert.rejects(askDial(peer, node.address, id, addrs))
    const fresh = await v1Peer()
    peers.push(fresh)
    assert.equal((await askDial(fresh, node.address, fresh.peerId.toMultihash().bytes, [])).type, 'DIAL_RESPONSE')
    assert.equal(node.child.exitCode, null)
  })
})
