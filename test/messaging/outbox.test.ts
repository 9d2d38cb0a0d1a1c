/**
 * The outbox: a message to a peer that is offline stays queued and is delivered once the
 * peer comes up; one whose TTL passes is reported as failed.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { PeerUnreachableError } from '../../dist/messaging/index.js'
import { createPeer, decodeText, freePort, stopAll, text, waitFor } from './helpers.ts'
import type { OutboxEntry } from '../../dist/messaging/index.js'

after(stopAll)

describe('messaging: outbox', () => {
  it('queues a message to an offline peer and delivers it, once, when the peer comes up', async () => {
    const key = await generateKeyPair('Ed25519')
    const bobId = peerIdFromPrivateKey(key)
    const port = await freePort()
    const alice = await createPeer({ retryIntervalMs: 200, ackTimeoutMs: 5_000 })
    await alice.node.peerStore.merge(bobId, { multiaddrs: [multiaddr(`/ip4/127.0.0.1/tcp/${port}`)] })
    const delivered: string[] = []
    alice.messaging.addEventListener('message:delivered', evt => { delivered.push(evt.detail.id) })

    // nobody listens on the port yet
    let error: unknown
    try {
      await alice.messaging.send(bobId, text('are you there?'), { id: 'queued-1' })
    } catch (err) {
      error = err
    }
    assert.ok(error instanceof PeerUnreachableError, `expected PeerUnreachableError, got ${String(error)}`)
    assert.equal(error.code, 'ERR_PEER_UNREACHABLE')
    assert.equal(error.queued, true)
    assert.match(error.message, /queued in the outbox, retrying until \d{4}-/)
    const pending = await alice.messaging.outbox()
    assert.equal(pending.length, 1)
    assert.equal(pending[0]?.state, 'pending')
    assert.equal(pending[0]?.to, bobId.toString())
    assert.ok((pending[0]?.attempts ?? 0) >= 1)

    // bob comes up on that port with that key; the outbox loop finds him
    const bob = await createPeer({}, { port, privateKey: key })
    await waitFor(() => delivered.includes('queued-1'), 'the outbox to deliver queued-1')

    const inbox = await bob.messaging.inbox()
    assert.equal(inbox.length, 1)
    assert.equal(inbox[0]?.id, 'queued-1')
    assert.equal(inbox[0]?.from, alice.id)
    assert.equal(decodeText(inbox[0]?.body ?? new Uint8Array()), 'are you there?')
    assert.deepEqual(await alice.messaging.outbox(), [])
  })

  it('retries at once when the peer connects', async () => {
    const key = await generateKeyPair('Ed25519')
    const bobId = peerIdFromPrivateKey(key)
    const port = await freePort()
    // a sweep interval far longer than the test: only 'peer:connect' can deliver in time
    const alice = await createPeer({ retryIntervalMs: 3_600_000, ackTimeoutMs: 5_000 })
    await alice.node.peerStore.merge(bobId, { multiaddrs: [multiaddr(`/ip4/127.0.0.1/tcp/${port}`)] })
    await assert.rejects(alice.messaging.send(bobId, text('ping me back'), { id: 'on-connect' }), PeerUnreachableError)

    const bob = await createPeer({}, { port, privateKey: key })
    await bob.node.dial(alice.node.getMultiaddrs())
    await waitFor(async () => (await bob.messaging.inbox()).length === 1, 'bob to receive on-connect')
    assert.equal((await bob.messaging.inbox())[0]?.id, 'on-connect')
    await waitFor(async () => (await alice.messaging.outbox()).length === 0, 'the outbox to empty')
  })

  it('marks a message failed and says so when its TTL passes undelivered', async () => {
    const key = await generateKeyPair('Ed25519')
    const bobId = peerIdFromPrivateKey(key)
    const port = await freePort()
    const alice = await createPeer({ retryIntervalMs: 100, outboxTtlMs: 500, ackTimeoutMs: 2_000 })
    await alice.node.peerStore.merge(bobId, { multiaddrs: [multiaddr(`/ip4/127.0.0.1/tcp/${port}`)] })
    const failed: OutboxEntry[] = []
    alice.messaging.addEventListener('message:failed', evt => { failed.push(evt.detail) })

    await assert.rejects(alice.messaging.send(bobId, text('too late'), { id: 'expires' }), PeerUnreachableError)
    await waitFor(() => failed.length > 0, 'message:failed')

    assert.equal(failed[0]?.id, 'expires')
    assert.equal(failed[0]?.state, 'failed')
    assert.match(failed[0]?.lastError ?? '', /expired/)
    const outbox = await alice.messaging.outbox()
    assert.equal(outbox.length, 1)
    assert.equal(outbox[0]?.state, 'failed')
    assert.equal(failed.length, 1, 'reported once')
  })

  it('with queue: false, a failed attempt leaves nothing in the outbox', async () => {
    const key = await generateKeyPair('Ed25519')
    const bobId = peerIdFromPrivateKey(key)
    const port = await freePort()
    const alice = await createPeer({ retryIntervalMs: 100 })
    await alice.node.peerStore.merge(bobId, { multiaddrs: [multiaddr(`/ip4/127.0.0.1/tcp/${port}`)] })
    await assert.rejects(alice.messaging.send(bobId, text('now or never'), { queue: false }), (err: Error) => {
      assert.ok(err instanceof PeerUnreachableError)
      assert.equal((err as PeerUnreachableError).queued, false)
      return true
    })
    assert.deepEqual(await alice.messaging.outbox(), [])
  })
})
