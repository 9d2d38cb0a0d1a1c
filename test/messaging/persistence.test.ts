/**
 * The inbox lives in the datastore: with LevelDB on disk (as in production) it survives a
 * restart of the node, and new messages land after the old ones.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { LevelDatastore } from 'datastore-level'
import { connect, createPeer, stopAll, stopPeer, text } from './helpers.ts'

const dirs: string[] = []
after(async () => {
  await stopAll()
  await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
})

describe('messaging: persistence', () => {
  it('keeps the inbox across a restart on LevelDB, in arrival order, without overwriting', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'burrow-messaging-'))
    dirs.push(dir)
    const key = await generateKeyPair('Ed25519')
    const alice = await createPeer()

    let datastore = new LevelDatastore(join(dir, 'datastore'))
    await datastore.open()
    let bob = await createPeer({}, { privateKey: key, datastore })
    await connect(alice, bob)
    await alice.messaging.send(bob.node.peerId, text('one'), { id: 'p-1' })
    await alice.messaging.send(bob.node.peerId, text('two'), { id: 'p-2' })
    await stopPeer(bob)
    await datastore.close()

    datastore = new LevelDatastore(join(dir, 'datastore'))
    await datastore.open()
    bob = await createPeer({}, { privateKey: key, datastore })
    assert.deepEqual((await bob.messaging.inbox()).map(m => m.id), ['p-1', 'p-2'], 'the inbox survived the restart')

    await connect(alice, bob)
    await alice.messaging.send(bob.node.peerId, text('two again'), { id: 'p-2' })
    await alice.messaging.send(bob.node.peerId, text('three'), { id: 'p-3' })
    const inbox = await bob.messaging.inbox()
    assert.deepEqual(inbox.map(m => m.id), ['p-1', 'p-2', 'p-3'], 'dedupe survived too, and new messages come after the old')
    assert.deepEqual(inbox.map(m => new TextDecoder().decode(m.body)), ['one', 'two', 'three'])
    await stopPeer(bob)
    await datastore.close()
  })

  it('keeps the outbox across a restart of the sender, and delivers from it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'burrow-messaging-'))
    dirs.push(dir)
    const bob = await createPeer()
    const bobAddrs = bob.node.getMultiaddrs()
    await bob.node.stop() // offline for now (its Messaging stays registered with the stopped node)

    let datastore = new LevelDatastore(join(dir, 'datastore'))
    await datastore.open()
    let alice = await createPeer({ ackTimeoutMs: 2_000 }, { datastore })
    await alice.node.peerStore.merge(bob.node.peerId, { multiaddrs: bobAddrs })
    await assert.rejects(alice.messaging.send(bob.node.peerId, text('survive me'), { id: 'o-1' }))
    await stopPeer(alice)
    await datastore.close()

    await bob.node.start()
    datastore = new LevelDatastore(join(dir, 'datastore'))
    await datastore.open()
    alice = await createPeer({ retryIntervalMs: 200 }, { datastore })
    assert.equal((await alice.messaging.outbox())[0]?.id, 'o-1', 'the outbox survived the restart')
    await alice.node.dial(bob.node.getMultiaddrs())
    const deadline = Date.now() + 20_000
    while ((await bob.messaging.inbox()).length === 0 && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    assert.deepEqual((await bob.messaging.inbox()).map(m => m.id), ['o-1'])
    await stopPeer(alice)
    await datastore.close()
  })
})
