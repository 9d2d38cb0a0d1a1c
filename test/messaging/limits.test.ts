/**
 * Load: one flooding peer is rate limited without hurting others (DESIGN "Security rules":
 * exceeding a limit degrades one peer, not the node), and R6: many peers × many messages,
 * none lost, none duplicated.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { MessageRateLimitedError, PeerUnreachableError } from '../../dist/messaging/index.js'
import { connect, createPeer, stopAll, text, waitFor } from './helpers.ts'

after(stopAll)

describe('messaging: limits and load', () => {
  it('answers a flooding peer RATE_LIMITED for the excess while another peer gets through', async () => {
    const bob = await createPeer({ maxInboundPerSecond: 5 })
    const mallory = await createPeer()
    const alice = await createPeer()
    await connect(mallory, bob)
    await connect(alice, bob)

    const flood = Array.from({ length: 40 }, async (_, i) =>
      mallory.messaging.send(bob.node.peerId, text(`flood ${i}`), { id: `flood-${i}`, queue: false }))
    const polite = Array.from({ length: 5 }, async (_, i) =>
      alice.messaging.send(bob.node.peerId, text(`hello ${i}`), { id: `polite-${i}` }))
    const floodResults = await Promise.allSettled(flood)
    const politeResults = await Promise.allSettled(polite)

    const ok = floodResults.filter(r => r.status === 'fulfilled').length
    const limited = floodResults.filter(r => r.status === 'rejected' && r.reason instanceof MessageRateLimitedError)
    assert.equal(ok + limited.length, 40, 'every flood message was either accepted or rate limited')
    assert.ok(limited.length > 0, 'the excess was rate limited')
    assert.ok(ok > 0, 'the first ones within the burst were accepted')
    const first = limited[0]
    assert.ok(first?.status === 'rejected')
    assert.equal((first.reason as MessageRateLimitedError).code, 'ERR_MESSAGE_RATE_LIMITED')
    assert.deepEqual(politeResults.map(r => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
      'the other peer was not affected')

    const inbox = await bob.messaging.inbox()
    assert.equal(inbox.filter(m => m.from === mallory.id).length, ok, 'exactly the acknowledged flood messages are stored')
    assert.equal(inbox.filter(m => m.from === alice.id).length, 5)
  })

  it('R6: 10 senders × 100 messages at once (BURROW_R6_MESSAGES to change), none lost, none duplicated', async () => {
    const senders = 10
    const perSender = Number(process.env.BURROW_R6_MESSAGES ?? 100)
    const bob = await createPeer()
    const peers = await Promise.all(Array.from({ length: senders }, async () => createPeer({ retryIntervalMs: 200 })))
    await Promise.all(peers.map(async p => connect(p, bob)))

    const results = await Promise.allSettled(peers.flatMap(p =>
      Array.from({ length: perSender }, async (_, i) => p.messaging.send(bob.node.peerId, text(`${p.id} #${i}`), { id: `r6-${i}` }))))
    // an attempt may be deferred (rate limited, or a stream limit), but never lost: it stays queued
    for (const r of results) {
      if (r.status === 'rejected') {
        assert.ok(r.reason instanceof MessageRateLimitedError || r.reason instanceof PeerUnreachableError, String(r.reason))
        assert.equal((r.reason as PeerUnreachableError).queued, true)
      }
    }
    await waitFor(async () => (await Promise.all(peers.map(async p => p.messaging.outbox()))).every(o => o.length === 0),
      'every outbox to empty', 120_000)

    const inbox = await bob.messaging.inbox()
    const keys = inbox.map(m => `${m.from}/${m.id}`)
    assert.equal(new Set(keys).size, keys.length, 'no duplicates')
    assert.equal(inbox.length, senders * perSender, 'none lost')
    for (const p of peers) {
      const mine = inbox.filter(m => m.from === p.id)
      assert.equal(mine.length, perSender)
      for (const m of mine) {
        assert.equal(new TextDecoder().decode(m.body), `${p.id} #${m.id.slice(3)}`)
      }
    }
    console.log(`R6: ${results.filter(r => r.status === 'fulfilled').length} acked on the first attempt, the rest by the outbox`)
  })
})
