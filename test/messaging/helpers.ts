/**
 * Real libp2p nodes for the messaging tests: TCP on 127.0.0.1, Noise, Yamux, Identify.
 * Every node a test creates is stopped by stopAll(), also when the test fails.
 */
import { createServer } from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { MemoryDatastore } from 'datastore-core'
import { createLibp2p } from 'libp2p'
import { lpStream } from '@libp2p/utils'
import { MESSAGE_PROTOCOL, messaging as messagingService } from '../../dist/messaging/index.js'
import type { Messaging } from '../../dist/messaging/index.js'
import { Ack, Message } from '../../dist/messaging/pb/message.js'
import type { MessagingInit } from '../../dist/messaging/index.js'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Datastore } from 'interface-datastore'

export interface Peer {
  node: Libp2p
  messaging: Messaging
  datastore: Datastore
  id: string
}

const running: Array<{ node: Libp2p, messaging: Messaging }> = []

export async function createNode (options: { port?: number, privateKey?: PrivateKey } = {}): Promise<Libp2p> {
  return createLibp2p(nodeInit(options))
}

function nodeInit (options: { port?: number, privateKey?: PrivateKey, datastore?: Datastore } = {}): Parameters<typeof createLibp2p>[0] {
  const init: Parameters<typeof createLibp2p>[0] = {
    addresses: { listen: [`/ip4/127.0.0.1/tcp/${options.port ?? 0}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    // every test peer dials from 127.0.0.1: lift the per-host inbound dial rate (default 5/s)
    connectionManager: { inboundConnectionThreshold: 1000, maxIncomingPendingConnections: 100 }
  }
  if (options.privateKey != null) {
    init.privateKey = options.privateKey
  }
  if (options.datastore != null) {
    init.datastore = options.datastore
  }
  return init
}

/** A started node with a started Messaging on it. */
export async function createPeer (init: MessagingInit = {}, options: { port?: number, privateKey?: PrivateKey, datastore?: Datastore } = {}): Promise<Peer> {
  // messaging is a libp2p service: it starts and stops with the node, on the node's datastore
  const datastore = options.datastore ?? new MemoryDatastore()
  const base = nodeInit({ ...options, datastore })
  const node = await createLibp2p({ ...base, services: { ...base?.services, messaging: messagingService(init) } })
  const messaging = (node.services as { messaging: Messaging }).messaging
  running.push({ node, messaging })
  return { node, messaging, datastore, id: node.peerId.toString() }
}

export async function stopPeer (peer: { node: Libp2p, messaging: Messaging }): Promise<void> {
  await peer.messaging.stop()
  await peer.node.stop()
}

export async function stopAll (): Promise<void> {
  await Promise.allSettled(running.splice(0).map(stopPeer))
}

/** Dials b from a, so a knows b's address. */
export async function connect (a: Peer, b: Peer): Promise<void> {
  await a.node.dial(b.node.getMultiaddrs())
}

/** A TCP port that was free a moment ago. */
export async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => {
        if (address == null || typeof address === 'string') {
          reject(new Error('no port'))
        } else {
          resolve(address.port)
        }
      })
    })
  })
}

/** Polls until `check` is true; fails with `what` after `timeoutMs` (a hang guard, not a timing assert). */
export async function waitFor (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`)
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

export function text (s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s)
}

export function decodeText (b: Uint8Array): string {
  return new TextDecoder().decode(b)
}

/**
 * A hostile or broken sender: writes each Message as given (no local checks) on one stream
 * and reads the ack after each; returns the acks (fewer if the receiver ended the stream).
 */
export async function sendRaw (node: Libp2p, to: PeerId | Multiaddr, messages: Array<Partial<Message>>): Promise<Ack[]> {
  const stream = await node.dialProtocol(to, MESSAGE_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  const lp = lpStream(stream)
  const acks: Ack[] = []
  try {
    for (const m of messages) {
      await lp.write(Message.encode(m), { signal: AbortSignal.timeout(10_000) })
      acks.push(Ack.decode(await lp.read({ signal: AbortSignal.timeout(10_000) })))
    }
    await stream.close()
  } catch {
    stream.abort(new Error('done'))
  }
  return acks
}
