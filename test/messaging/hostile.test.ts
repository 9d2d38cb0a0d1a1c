/**
 * Issue 10, acceptance 1 (library side): what a peer sends is checked at the protocol edge.
 * A sentAtMs no date can hold is refused MALFORMED (not clamped), a record poisoned by older
 * code is skipped, and a listener that throws does not reach the process.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { Ack } from '../../dist/messaging/pb/message.js'
import { InboxRecord } from '../../dist/messaging/pb/store.js'
import { connect, createNode, createPeer, sendRaw, stopAll, text, waitFor } from './helpers.ts'
import type { Libp2p } from '@libp2p/interface'

const nodes: Libp2p[] = []
const dirs: string[] = []
after(async () => {
  await stopAll()
  await Promise.allSettled(nodes.map(async n => n.stop()))
  await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
})

async function bareNode (): Promise<Libp2p> {
  const node = await createNode()
  nodes.push(node)
  return node
}

describe('messaging: hostile senders', () => {
  it('refuses sentAtMs 2^63, -1 (2^64-1 on the wire), 2^53+1 and past year 9999 as MALFORMED, and stores the next message', async () => {
    const bob = await createPeer()
    const mallory = await bareNode()
    const to = bob.node.getMultiaddrs()[0]
    assert.ok(to != null)
    const body = text('poison')
    const poisoned = [2n ** 63n, 2n ** 64n - 1n, 2n ** 53n + 1n, 253_402_300_800_000n, 8_640_000_000_000_001n]
    for (const [i, sentAtMs] of poisoned.entries()) {
      // a MALFORMED ack ends the stream: one stream each
      const acks = await sendRaw(mallory, to, [{ id: `poison-${i}`, sentAtMs, body }])
      assert.equal(acks[0]?.status, Ack.Status.MALFORMED, `sentAtMs ${sentAtMs} refused`)
      assert.match(acks[0]?.reason ?? '', /sentAtMs/)
    }
    const now = BigInt(Date.now())
    const acks = await sendRaw(mallory, to, [{ id: 'after', sentAtMs: now, body: text('after the poison') }, { id: 'y2k', sentAtMs: 946_684_800_000n, body }])
    assert.deepEqual(acks.map(a => a.status), [Ack.Status.OK, Ack.Status.OK])
    // before 2000 (the epoch, 2^31: values a protons-runtime encoder defect would store as another time) is refused too
    for (const [i, sentAtMs] of [0n, 2n ** 31n, 946_684_799_999n].entries()) {
      const early = await sendRaw(mallory, to, [{ id: `early-${i}`, sentAtMs, body }])
      assert.equal(early[0]?.status, Ack.Status.MALFORMED, `sentAtMs ${sentAtMs} refused`)
    }

    const inbox = await bob.messaging.inbox()
    assert.deepEqual(inbox.map(m => m.id), ['after', 'y2k'], 'only the valid messages were stored')
    assert.equal(inbox[0]?.sentAtMs, Number(now))
    for (const m of inbox) assert.doesNotThrow(() => new Date(m.sentAtMs).toISOString())
  })

  it('refuses ids with control characters and content types that are not printable ASCII', async () => {
    const bob = await createPeer()
    const mallory = await bareNode()
    const to = bob.node.getMultiaddrs()[0]
    assert.ok(to != null)
    const sentAtMs = BigInt(Date.now())
    const body = text('x')
    for (const m of [{ id: 'a\u0000b' }, { id: 'line\nbreak' }, { id: 'ok-id', contentType: 'text/plain\r\nX-Evil: 1' }, { id: 'ok-id-2', contentType: 'text/ünicode' }]) {
      const acks = await sendRaw(mallory, to, [{ sentAtMs, body, ...m }])
      assert.equal(acks[0]?.status, Ack.Status.MALFORMED, JSON.stringify(m))
    }
    assert.deepEqual(await bob.messaging.inbox(), [])
  })

  it('skips a record poisoned by older code (sentAtMs 2^63 on disk) and lists the messages after it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'burrow-poison-'))
    dirs.push(dir)
    const datastore = new LevelDatastore(join(dir, 'datastore'))
    await datastore.open()
    // what the code before issue 10 stored and acked OK
    const poison = InboxRecord.encode({ id: 'old-poison', from: '12D3KooWAttacker', sentAtMs: 2n ** 63n, receivedAtMs: BigInt(Date.now()), body: text('boom'), relayed: false })
    await datastore.put(new Key('/burrow/inbox/msg/0000000000000000'), poison)
    await datastore.put(new Key('/burrow/inbox/meta/next-seq'), text('1'))

    const bob = await createPeer({}, { datastore })
    const alice = await createPeer()
    await connect(alice, bob)
    await alice.messaging.send(bob.node.peerId, text('later'), { id: 'later' })

    const inbox = await bob.messaging.inbox()
    assert.deepEqual(inbox.map(m => m.id), ['later'], 'the poisoned record is skipped, the later one listed')
    assert.equal(bob.messaging.usage().inbox.skipped, 1, 'and counted as skipped')
    await stopAll()
    await datastore.close()
  })

  it('a message listener that throws (or rejects) does not reach the process; other listeners still get the message', async () => {
    const uncaught: unknown[] = []
    const onUncaught = (err: unknown): void => { uncaught.push(err) }
    process.on('uncaughtException', onUncaught)
    process.on('unhandledRejection', onUncaught)
    try {
      const bob = await createPeer()
      const alice = await createPeer()
      await connect(alice, bob)
      const seen: string[] = []
      bob.messaging.addEventListener('message', () => { throw new Error('a bug in the app') })
      bob.messaging.addEventListener('message', async () => { throw new Error('an async bug in the app') })
      bob.messaging.addEventListener('message', evt => { seen.push(evt.detail.id) })
      await alice.messaging.send(bob.node.peerId, text('one'), { id: 'one' })
      await alice.messaging.send(bob.node.peerId, text('two'), { id: 'two' })
      await waitFor(() => seen.length === 2, 'both messages seen by the good listener')
      // give a thrown error the ticks it needs to surface as uncaught
      await new Promise(resolve => setTimeout(resolve, 200))
      assert.deepEqual(uncaught, [])
      assert.deepEqual(seen, ['one', 'two'])
    } finally {
      process.off('uncaughtException', onUncaught)
      process.off('unhandledRejection', onUncaught)
    }
  })
})
