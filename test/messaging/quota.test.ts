/**
 * Issue 10: bounded storage (per-sender quota, dedupe ids pruned after the outbox TTL) and
 * durability (the inbox write is synced to disk before the ack), on real nodes over TCP.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { LevelDatastore } from 'datastore-level'
import { connect, createPeer, stopAll, text, waitFor } from './helpers.ts'
import type { InboxFullError } from '../../dist/messaging/index.js'

const dirs: string[] = []
after(async () => {
  await stopAll()
  await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
})

async function tempDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'burrow-quota-'))
  dirs.push(dir)
  return dir
}

describe('messaging: inbox quotas', () => {
  it('a sender over its quota gets QUOTA_EXCEEDED and keeps the message queued; others still get through; a resent stored id is still acked', async () => {
    const bob = await createPeer({ inboxMaxCountPerSender: 2 })
    const alice = await createPeer({ retryIntervalMs: 60_000 })
    const carol = await createPeer()
    await connect(alice, bob)
    await connect(carol, bob)

    await alice.messaging.send(bob.node.peerId, text('one'), { id: 'a-1' })
    await alice.messaging.send(bob.node.peerId, text('two'), { id: 'a-2' })
    await assert.rejects(alice.messaging.send(bob.node.peerId, text('three'), { id: 'a-3' }), (err: InboxFullError) => {
      assert.equal(err.code, 'ERR_PEER_INBOX_FULL')
      assert.equal(err.queued, true)
      assert.match(err.message, /quota for this sender/)
      assert.match(err.message, /queued in the outbox, retrying until/)
      return true
    })
    assert.deepEqual((await alice.messaging.outbox()).map(e => [e.id, e.state]), [['a-3', 'pending']])

    // a retry of a message bob already holds is not new storage: acked OK, not stored twice
    const again = await alice.messaging.send(bob.node.peerId, text('two'), { id: 'a-2' })
    assert.equal(again.status, 'OK')
    const other = await carol.messaging.send(bob.node.peerId, text('hi'), { id: 'c-1' })
    assert.equal(other.status, 'OK', 'another sender is not held up by alice\'s quota')

    assert.deepEqual((await bob.messaging.inbox()).map(m => m.id), ['a-1', 'a-2', 'c-1'])
    const usage = bob.messaging.usage().inbox
    assert.equal(usage.count, 3)
    assert.equal(usage.senders, 2)
    assert.equal(usage.maxCountPerSender, 2)
  })

  it('drops dedupe ids once the outbox TTL has passed (no sender retries longer); the message stays', async () => {
    const bob = await createPeer({ outboxTtlMs: 1500, retryIntervalMs: 200 })
    const alice = await createPeer()
    await connect(alice, bob)
    await alice.messaging.send(bob.node.peerId, text('remember me'), { id: 'd-1' })
    const ids = async (): Promise<number> => {
      let n = 0
      for await (const _ of bob.datastore.queryKeys({ prefix: '/burrow/inbox/ids/' })) n++
      return n
    }
    assert.equal(await ids(), 1)
    await waitFor(async () => (await ids()) === 0, 'the dedupe id to be pruned', 20_000)
    assert.deepEqual((await bob.messaging.inbox()).map(m => m.id), ['d-1'])
  })
})

describe('messaging: durable inbox writes', () => {
  it('syncs the inbox write to disk (LevelDB sync: true) before it acks', async () => {
    const datastore = new LevelDatastore(join(await tempDir(), 'datastore'))
    await datastore.open()
    // watch the real LevelDB handle underneath: every batch and the options it was given
    const db = datastore.db as unknown as { batch: (ops: Array<{ key: string }>, options?: { sync?: boolean }) => Promise<void> }
    const real = db.batch.bind(db)
    const batches: Array<{ keys: string[], sync: boolean, done: boolean }> = []
    db.batch = async (ops, options) => {
      const call = { keys: ops.map(o => o.key), sync: options?.sync === true, done: false }
      batches.push(call)
      await real(ops, options)
      call.done = true
    }
    try {
      const bob = await createPeer({}, { datastore })
      const alice = await createPeer()
      await connect(alice, bob)
      await alice.messaging.send(bob.node.peerId, text('keep me'), { id: 'durable' })
      const write = batches.find(b => b.keys.some(k => k.startsWith('/burrow/inbox/msg/')))
      assert.ok(write != null, 'the inbox write went through one batch')
      assert.equal(write.sync, true, 'with sync: true')
      assert.equal(write.done, true, 'committed before the ack reached the sender')
    } finally {
      await stopAll()
      await datastore.close()
    }
  })
})
