/**
 * The exchange itself, between two real nodes over TCP on loopback: send → ack → inbox,
 * dedupe of a resent id, size limits, and garbage on the protocol.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { lpStream } from '@libp2p/utils'
import { MESSAGE_PROTOCOL, MessageRejectedError, MessageTooLargeError } from '../../dist/messaging/index.js'
import { Ack } from '../../dist/messaging/pb/message.js'
import { connect, createPeer, decodeText, stopAll, text, waitFor } from './helpers.ts'
import type { InboxMessage } from '../../dist/messaging/index.js'
import type { Peer } from './helpers.ts'
import type { Stream } from '@libp2p/interface'

after(stopAll)

/** Writes raw bytes on the protocol and returns the acks that came back before the stream ended. */
async function raw (from: Peer, to: Peer, bytes: Uint8Array): Promise<Ack[]> {
  const stream: Stream = await from.node.dialProtocol(to.node.peerId, MESSAGE_PROTOCOL)
  const lp = lpStream(stream)
  stream.send(bytes)
  await stream.close()
  const acks: Ack[] = []
  try {
    while (true) {
      acks.push(Ack.decode(await lp.read({ signal: AbortSignal.timeout(10_000) })))
    }
  } catch {
    // the receiver ended or reset the stream
  }
  return acks
}

describe('messaging: one message', () => {
  it('is acknowledged once stored, and the receiver holds exactly that message from the sender', async () => {
    const alice = await createPeer()
    const bob = await createPeer()
    await connect(alice, bob)
    const events: InboxMessage[] = []
    bob.messaging.addEventListener('message', evt => { events.push(evt.detail) })

    const result = await alice.messaging.send(bob.node.peerId, text('hello bob'), { contentType: 'text/plain' })

    assert.equal(result.status, 'OK')
    assert.equal(result.via, 'direct')
    const inbox = await bob.messaging.inbox()
    assert.equal(inbox.length, 1)
    assert.equal(inbox[0]?.id, result.id)
    assert.equal(inbox[0]?.from, alice.id)
    assert.equal(decodeText(inbox[0]?.body ?? new Uint8Array()), 'hello bob')
    assert.equal(inbox[0]?.contentType, 'text/plain')
    assert.equal(inbox[0]?.via, 'direct')
    assert.equal(events.length, 1, 'one message event')
    assert.deepEqual(await alice.messaging.outbox(), [], 'delivered entries leave the outbox')
  })

  it('several messages share one stream, and one sent after the receiver ended that idle stream still arrives once', async () => {
    const alice = await createPeer()
    // the receiver ends a stream that stays silent for 300 ms
    const bob = await createPeer({ readTimeoutMs: 300 })
    await connect(alice, bob)
    const streams = (a: Peer, b: Peer): string[] => a.node.getConnections(b.node.peerId).flatMap(c => c.streams)
      .filter(st => st.protocol === MESSAGE_PROTOCOL && st.status === 'open').map(st => st.id)
    const used = new Set<string>()
    for (let i = 0; i < 5; i++) {
      assert.equal((await alice.messaging.send(bob.node.peerId, text(`burst ${i}`))).status, 'OK')
      const open = streams(alice, bob)
      assert.equal(open.length, 1, 'alice keeps one message stream open after an ack')
      used.add(open[0] ?? '')
    }
    assert.equal(used.size, 1, 'the five messages went on one stream')
    const opened = (): number => streams(bob, alice).length
    // wait until bob has ended the idle stream, then send again
    await waitFor(() => opened() === 0, 'bob ending the idle stream', 5_000)
    const late = await alice.messaging.send(bob.node.peerId, text('after idle'))
    assert.equal(late.status, 'OK')
    const inbox = await bob.messaging.inbox()
    assert.deepEqual(inbox.map(m => decodeText(m.body)), ['burst 0', 'burst 1', 'burst 2', 'burst 3', 'burst 4', 'after idle'])
    assert.deepEqual(await alice.messaging.outbox(), [])
  })

  it('sent twice with the same id is stored once and acknowledged both times', async () => {
    const alice = await createPeer()
    const bob = await createPeer()
    await connect(alice, bob)

    const first = await alice.messaging.send(bob.node.peerId, text('once'), { id: 'msg-1' })
    const second = await alice.messaging.send(bob.node.peerId, text('once'), { id: 'msg-1' })

    assert.equal(first.status, 'OK')
    assert.equal(second.status, 'OK')
    const inbox = await bob.messaging.inbox()
    assert.equal(inbox.length, 1)
    assert.equal(inbox[0]?.id, 'msg-1')
  })

  it('keeps messages in arrival order and honours since/limit', async () => {
    const alice = await createPeer()
    const bob = await createPeer()
    await connect(alice, bob)
    for (let i = 0; i < 5; i++) {
      await alice.messaging.send(bob.node.peerId, text(`m${i}`), { id: `order-${i}` })
    }
    const inbox = await bob.messaging.inbox()
    assert.deepEqual(inbox.map(m => m.id), ['order-0', 'order-1', 'order-2', 'order-3', 'order-4'])
    assert.deepEqual((await bob.messaging.inbox({ limit: 2 })).map(m => m.id), ['order-0', 'order-1'])
    const third = inbox[2]
    assert.ok(third != null)
    const since = await bob.messaging.inbox({ since: third.receivedAtMs })
    assert.ok(since.every(m => m.receivedAtMs >= third.receivedAtMs))
    assert.ok(since.some(m => m.id === 'order-4'))
  })
})

describe('messaging: size limits', () => {
  it('refuses locally a body over the local limit, before queueing anything', async () => {
    const alice = await createPeer({ maxMessageBytes: 100 })
    const bob = await createPeer()
    await connect(alice, bob)
    await assert.rejects(alice.messaging.send(bob.node.peerId, new Uint8Array(101)), (err: Error) => {
      assert.ok(err instanceof MessageTooLargeError)
      assert.equal((err as MessageTooLargeError).code, 'ERR_MESSAGE_TOO_LARGE')
      return true
    })
    assert.deepEqual(await alice.messaging.outbox(), [])
  })

  it('a receiver with a small limit answers TOO_LARGE (frame and body) and its inbox is unchanged', async () => {
    const alice = await createPeer() // 1 MiB local limit: gets past its own check
    const bob = await createPeer({ maxMessageBytes: 1024 })
    await connect(alice, bob)
    const failed: string[] = []
    alice.messaging.addEventListener('message:failed', evt => { failed.push(evt.detail.id) })

    // the frame's length prefix is over bob's frame limit: refused before the body is read
    await assert.rejects(alice.messaging.send(bob.node.peerId, new Uint8Array(64 * 1024), { id: 'big-frame' }), (err: Error) => {
      assert.ok(err instanceof MessageRejectedError)
      assert.equal((err as MessageRejectedError).code, 'ERR_MESSAGE_REJECTED')
      assert.equal((err as MessageRejectedError).status, 'TOO_LARGE')
      return true
    })
    // the frame fits but the body is over the limit: refused after decoding
    await assert.rejects(alice.messaging.send(bob.node.peerId, new Uint8Array(1500), { id: 'big-body' }), (err: Error) => {
      assert.equal((err as MessageRejectedError).status, 'TOO_LARGE')
      return true
    })

    assert.deepEqual(await bob.messaging.inbox(), [])
    const outbox = await alice.messaging.outbox()
    assert.deepEqual(outbox.map(e => [e.id, e.state]).sort(), [['big-body', 'failed'], ['big-frame', 'failed']])
    assert.deepEqual(failed.sort(), ['big-body', 'big-frame'])

    // and the stream trouble left bob fine
    const ok = await alice.messaging.send(bob.node.peerId, new Uint8Array(1024))
    assert.equal(ok.status, 'OK')
    assert.equal((await bob.messaging.inbox()).length, 1)
  })
})

describe('messaging: bad input on the protocol', () => {
  it('answers garbage with an error ack or a reset, stores nothing, and keeps working', async () => {
    const mallory = await createPeer()
    const bob = await createPeer()
    await connect(mallory, bob)

    // a length prefix of ~100 MiB: TOO_LARGE without reading the body
    const huge = await raw(mallory, bob, Uint8Array.from([0x80, 0x80, 0x80, 0x32, 1, 2, 3]))
    assert.equal(huge[0]?.status, Ack.Status.TOO_LARGE)
    // a varint that never ends
    const endless = await raw(mallory, bob, new Uint8Array(64).fill(0xff))
    assert.equal(endless[0]?.status, Ack.Status.MALFORMED)
    // a well-framed frame that is not a protobuf Message
    const garbage = await raw(mallory, bob, Uint8Array.from([5, 0xff, 0xff, 0xff, 0xff, 0xff]))
    assert.equal(garbage[0]?.status, Ack.Status.MALFORMED)
    // a valid Message without an id
    const noId = await raw(mallory, bob, Uint8Array.from([3, 0x1a, 1, 0x41]))
    assert.equal(noId[0]?.status, Ack.Status.MALFORMED)
    // a frame cut short
    assert.deepEqual(await raw(mallory, bob, Uint8Array.from([100, 1, 2, 3])), [])
    assert.deepEqual(await bob.messaging.inbox(), [], 'nothing partial or malformed stored')

    // random bytes: whatever the receiver makes of them, it must survive
    for (let i = 0; i < 20; i++) {
      await raw(mallory, bob, crypto.getRandomValues(new Uint8Array(1 + Math.floor(Math.random() * 4096))))
    }

    const ok = await mallory.messaging.send(bob.node.peerId, text('after the noise'), { id: 'after' })
    assert.equal(ok.status, 'OK')
    const inbox = await bob.messaging.inbox()
    assert.ok(inbox.some(m => m.id === 'after' && m.from === mallory.id))
    await waitFor(() => bob.node.status === 'started', 'bob still started')
  })
})
