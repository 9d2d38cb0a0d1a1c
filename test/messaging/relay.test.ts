/**
 * Messages do not wait for the hole punch: they go over a relayed (limited) connection,
 * and once a direct connection exists, new streams take it.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { MemoryDatastore } from 'datastore-core'
import { createLibp2p } from 'libp2p'
import { messaging as messagingService } from '../../dist/messaging/index.js'
import type { Messaging } from '../../dist/messaging/index.js'
import { text, waitFor } from './helpers.ts'
import type { Libp2p } from '@libp2p/interface'

const nodes: Libp2p[] = []
after(async () => {
  await Promise.allSettled(nodes.map(async n => n.stop()))
})

async function node (listen: string[], relayServer = false): Promise<Libp2p> {
  const common = {
    addresses: { listen },
    transports: [tcp(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 1000 }
  }
  const n: Libp2p = relayServer
    ? await createLibp2p({ ...common, services: { identify: identify(), relay: circuitRelayServer() } })
    // messaging is a libp2p service: started and stopped with the node
    : await createLibp2p({ ...common, datastore: new MemoryDatastore(), services: { identify: identify(), messaging: messagingService() } })
  nodes.push(n)
  return n
}

async function messaging (n: Libp2p): Promise<Messaging> {
  return (n.services as { messaging: Messaging }).messaging
}

describe('messaging: relayed and direct paths', () => {
  it('delivers over a limited relayed connection, then prefers the direct one once it exists', async () => {
    const relay = await node(['/ip4/127.0.0.1/tcp/0'], true)
    const relayAddr = relay.getMultiaddrs()[0]
    assert.ok(relayAddr != null)
    const bob = await node(['/ip4/127.0.0.1/tcp/0', `${relayAddr.toString()}/p2p-circuit`])
    const alice = await node(['/ip4/127.0.0.1/tcp/0'])
    const bobMessaging = await messaging(bob)
    const aliceMessaging = await messaging(alice)

    await waitFor(() => bob.getMultiaddrs().some(a => a.toString().includes('/p2p-circuit')), 'bob to hold a relay reservation')
    const circuit = bob.getMultiaddrs().find(a => a.toString().includes('/p2p-circuit'))
    assert.ok(circuit != null)
    const relayed = await alice.dial(circuit)
    assert.ok(relayed.limits != null, 'the relayed connection is limited')

    const first = await aliceMessaging.send(bob.peerId, text('via the relay'), { id: 'relayed-1' })
    assert.equal(first.via, 'relayed')

    // a direct connection appears (in real life: the hole punch); new streams use it
    const direct = bob.getMultiaddrs().find(a => !a.toString().includes('/p2p-circuit'))
    assert.ok(direct != null)
    await alice.dial(direct)
    const second = await aliceMessaging.send(bob.peerId, text('direct now'), { id: 'direct-1' })
    assert.equal(second.via, 'direct')

    const inbox = await bobMessaging.inbox()
    assert.deepEqual(inbox.map(m => [m.id, m.via]), [['relayed-1', 'relayed'], ['direct-1', 'direct']])
  })
})
