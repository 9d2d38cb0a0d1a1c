/**
 * Queued messages can be listed and cancelled (issue 14): `burrow outbox` shows what waits
 * (timestamps in ISO 8601, like the rest of the API), `burrow outbox cancel ID` takes one
 * out, and the peer never receives it when it comes back — while the message left queued
 * is delivered then. `send --json` prints its result on stdout even when the message was
 * only queued (it used to print nothing, the id only in the stderr prose).
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { startDaemon, stopDaemon, stopAll, burrow, burrowJson, waitFor } from '../helpers/burrow.ts'

interface Entry { id: string, to: string, state: string, createdAt: string, expiresAt: string, attempts: number }

describe('burrow outbox', () => {
  after(async () => { await stopAll() })

  it('lists queued messages, cancels one, and the peer never receives it', async () => {
    const a = await startDaemon('outbox-a')
    const b = await startDaemon('outbox-b')
    assert.equal((await burrow(a.home, ['dial', b.address])).code, 0)
    await stopDaemon(b)

    const sent: Record<string, { id: string, state: string, code: string }> = {}
    for (const text of ['cancel me', 'keep me']) {
      const r = await burrow(a.home, ['send', b.peerId, text, '--json'])
      assert.equal(r.code, 75, `${text}: queued (${r.stderr})`)
      sent[text] = JSON.parse(r.stdout) as { id: string, state: string, code: string }
      assert.equal(sent[text]?.state, 'queued')
      assert.equal(sent[text]?.code, 'ERR_PEER_UNREACHABLE')
    }

    const listed = await burrowJson<Entry[]>(a.home, ['outbox'])
    assert.deepEqual(listed.map(e => e.id).sort(), [sent['cancel me']?.id, sent['keep me']?.id].sort())
    for (const e of listed) {
      assert.equal(e.state, 'pending')
      assert.equal(e.to, b.peerId)
      assert.match(e.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'ISO 8601 timestamps')
      assert.match(e.expiresAt, /^\d{4}-\d\d-\d\dT/)
    }

    const cancel = await burrow(a.home, ['outbox', 'cancel', sent['cancel me']?.id ?? ''])
    assert.equal(cancel.code, 0, cancel.stderr)
    assert.deepEqual((await burrowJson<Entry[]>(a.home, ['outbox'])).map(e => e.id), [sent['keep me']?.id])
    const missing = await burrow(a.home, ['outbox', 'cancel', 'no-such-id'])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /^burrow: ERR_NOT_FOUND: no message with id no-such-id in the outbox/)

    // B comes back and connects to A: A retries what is still queued
    const back = await startDaemon('outbox-b2', { home: b.home, bootstrap: [a.address] })
    const texts = await waitFor('the queued message at B', async () => {
      const lines = (await burrow(back.home, ['inbox', '--json'])).stdout.trim().split('\n').filter(l => l !== '')
      const t = lines.map(l => (JSON.parse(l) as { text: string }).text)
      return t.includes('keep me') ? t : undefined
    }, 60_000)
    assert.ok(!texts.includes('cancel me'), `the cancelled message never arrives: ${JSON.stringify(texts)}`)
    assert.deepEqual(await burrowJson<Entry[]>(a.home, ['outbox']), [])
  })
})
