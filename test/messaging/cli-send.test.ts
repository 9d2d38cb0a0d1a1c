/**
 * Issue 10, acceptance 8 with the real binary: `burrow send` exits 75 and says the message
 * is queued when the receiver answers RATE_LIMITED or QUOTA_EXCEEDED (a resend with the same
 * --id is stored once), and says "expired" (exit 1) when the outbox TTL has passed.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { lpStream } from '@libp2p/utils'
import { MESSAGE_PROTOCOL } from '../../dist/messaging/index.js'
import { Ack, Message } from '../../dist/messaging/pb/message.js'
import { burrow, burrowJson, sleep, startDaemon, stopAll as stopDaemons, waitFor } from '../helpers/burrow.ts'
import { createNode } from './helpers.ts'
import type { CliResult } from '../helpers/burrow.ts'
import type { NodeStatus } from '../../dist/node/types.js'
import type { Libp2p } from '@libp2p/interface'

const nodes: Libp2p[] = []
after(async () => {
  await Promise.allSettled(nodes.map(async n => n.stop()))
  await stopDaemons()
})

function inboxIds (r: CliResult): string[] {
  return r.stdout.split('\n').filter(l => l.trim() !== '').map(l => (JSON.parse(l) as { id: string }).id)
}

describe('burrow send: queued, rate limited, full, expired', () => {
  it('RATE_LIMITED and QUOTA_EXCEEDED exit 75 saying the message is queued; a resend with the same id is stored once', async () => {
    // one message per 2 s (burst 1), two messages in the whole inbox
    const r = await startDaemon('rl-recv', { env: { BURROW_MESSAGES_MAX_INBOUND_PER_SECOND: '0.5', BURROW_MESSAGES_INBOX_MAX_COUNT: '2' } })
    const s = await startDaemon('rl-send', { bootstrap: [r.address], env: { BURROW_MESSAGES_RETRY_INTERVAL_SECONDS: '1' } })
    // two at once: the bucket holds one, so one is acknowledged and the other rate limited
    const [x, y] = await Promise.all([
      burrow(s.home, ['send', r.peerId, 'first', '--id', 'm-1']),
      burrow(s.home, ['send', r.peerId, 'second', '--id', 'm-2'])
    ])
    assert.deepEqual([x.code, y.code].sort(), [0, 75], `one delivered, one queued: ${x.stderr} ${y.stderr}`)
    const limited = x.code === 75 ? x : y
    const queuedId = x.code === 75 ? 'm-1' : 'm-2'
    assert.match(limited.stderr, /ERR_MESSAGE_RATE_LIMITED/)
    assert.match(limited.stderr, /queued in the outbox, retrying until \d{4}-/)
    assert.doesNotMatch(limited.stderr, /not queued/)
    assert.equal(limited.stderr.trim().split('\n').length, 1, 'one line')

    // the outbox delivers it once the rate allows; the user's resend with the same id is not a second copy
    await waitFor('the outbox to deliver the queued one', async () => inboxIds(await burrow(r.home, ['inbox', '--json'])).includes(queuedId), 30_000)
    await waitFor('the sender\'s outbox to empty', async () => (await burrowJson<NodeStatus>(s.home, ['status'])).messages.outboxPending === 0)
    await sleep(2500) // the receiver's bucket refills (one message per 2 s, burst 1)
    const resent = await burrow(s.home, ['send', r.peerId, 'again', '--id', queuedId])
    assert.equal(resent.code, 0, resent.stderr)
    assert.deepEqual(inboxIds(await burrow(r.home, ['inbox', '--json'])).sort(), ['m-1', 'm-2'], 'stored once')

    // the inbox holds 2: the next message is refused for the quota, and stays queued
    await sleep(2500)
    const full = await burrow(s.home, ['send', r.peerId, 'third', '--id', 'm-3'])
    assert.equal(full.code, 75, full.stderr)
    assert.match(full.stderr, /ERR_PEER_INBOX_FULL: .*inbox is over its quota/)
    assert.match(full.stderr, /queued in the outbox, retrying until/)
  })

  it('a message whose outbox TTL passes says "expired" and exits 1, not "not queued" with 75', async () => {
    // a receiver that takes 1.5 s to answer, and then only RATE_LIMITED: longer than the sender's 1 s TTL
    const slow = await createNode()
    nodes.push(slow)
    await slow.handle(MESSAGE_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      try {
        const m = Message.decode(await lp.read({ signal: AbortSignal.timeout(10_000) }))
        await sleep(1500)
        await lp.write(Ack.encode({ id: m.id, status: Ack.Status.RATE_LIMITED }))
        await stream.close()
      } catch {
        stream.abort(new Error('slow receiver done'))
      }
    }, { runOnLimitedConnection: true })
    const s = await startDaemon('exp-send', { env: { BURROW_MESSAGES_OUTBOX_TTL_SECONDS: '1' } })
    const address = slow.getMultiaddrs()[0]?.toString() ?? ''
    const dial = await burrow(s.home, ['dial', address])
    assert.equal(dial.code, 0, dial.stderr)

    const r = await burrow(s.home, ['send', slow.peerId.toString(), 'too late', '--id', 'late-1'])
    assert.equal(r.code, 1, `exit 1: ${r.stderr}`)
    assert.match(r.stderr, /ERR_MESSAGE_EXPIRED: message late-1 to \S+ expired/)
    assert.doesNotMatch(r.stderr, /not queued/)
  })
})
