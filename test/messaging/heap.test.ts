/**
 * A long-running node keeps no heap per message: two real nodes over TCP on loopback send
 * the same message id over and over (the receiver acks the duplicates without storing
 * them, so the inbox and the outbox stay the same size), and the live heap after a full GC
 * must not grow with the number of messages. The soak (bench/soak.ts) found each message
 * leaving ~0.5 KB behind for the life of the node: AbortSignal.any() with the service's
 * long-lived shutdown signal (nodejs/node#55351), ~7 MB/hour per node at 10 messages a second.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, describe, it } from 'node:test'
import { liveHeapBytes } from '../helpers/heap.ts'
import { linkSignals } from '../../dist/messaging/linked-signal.js'
import { connect, createPeer, stopAll, text } from './helpers.ts'
import type { Peer } from './helpers.ts'

after(stopAll)

/** Each message's timers (ack timeout, read timeout) hold heap until they fire: short here, and waited out. */
const TIMEOUT_MS = 1000

/** the live heap once each message's timers have fired */
async function liveHeap (): Promise<number> {
  await sleep(TIMEOUT_MS * 2)
  return await liveHeapBytes()
}

async function sendMany (from: Peer, to: Peer, count: number): Promise<void> {
  for (let i = 0; i < count; i += 8) {
    await Promise.all(Array.from({ length: 8 }, async () => {
      const r = await from.messaging.send(to.node.peerId, text('same'), { id: 'same-id' })
      assert.equal(r.status, 'OK')
    }))
  }
}

describe('messaging: memory over many messages', () => {
  it('keeps no heap per message once it is acked (sender and receiver)', async (t) => {
    const alice = await createPeer({ ackTimeoutMs: TIMEOUT_MS })
    const bob = await createPeer({ maxInboundPerSecond: 1_000_000, readTimeoutMs: TIMEOUT_MS })
    await connect(alice, bob)
    await sendMany(alice, bob, 1000) // warm-up: JIT, the idle stream, buffers
    const before = await liveHeap()
    const n = 8000
    await sendMany(alice, bob, n)
    const perMessage = (await liveHeap() - before) / n
    t.diagnostic(`live heap: ${(perMessage).toFixed(1)} bytes per message`)
    // before the fix: KBs per message (sender and receiver in this process); after it the
    // heap snapshots differ by ~6 bytes per message, and this figure by a few hundred
    // (a WeakMap's capacity inside Node's DOMException, the young generation)
    assert.ok(perMessage < 300, `the live heap grew ${perMessage.toFixed(0)} bytes per message`)
  })
})

describe('linkSignals', () => {
  it('aborts with the first source\'s reason, and once disposed follows no source', () => {
    const a = new AbortController()
    const b = new AbortController()
    const linked = linkSignals([a.signal, undefined, b.signal])
    b.abort(new Error('b'))
    assert.equal(linked.signal.aborted, true)
    assert.equal((linked.signal.reason as Error).message, 'b')
    a.abort(new Error('a'))
    assert.equal((linked.signal.reason as Error).message, 'b')

    const c = new AbortController()
    const later = linkSignals([c.signal])
    later.dispose()
    c.abort()
    assert.equal(later.signal.aborted, false, 'a disposed link does not follow its source')
    assert.equal(linkSignals([c.signal]).signal.aborted, true, 'an aborted source aborts the link at once')
  })
})
