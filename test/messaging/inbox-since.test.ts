/**
 * `burrow inbox --since TIME|ID` (issue 14): `--follow` used to replay the whole inbox with
 * no way to start from where a reader left off.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { startDaemon, stopAll, burrow, waitFor, CLI } from '../helpers/burrow.ts'

interface Line { id: string, text: string, receivedAt: string }

describe('burrow inbox --since', () => {
  const children: Array<ReturnType<typeof spawn>> = []
  after(async () => {
    for (const c of children) c.kill('SIGKILL')
    await stopAll()
  })

  it('starts after a message id or at a time, with and without --follow', async () => {
    const a = await startDaemon('since-a')
    const b = await startDaemon('since-b', { bootstrap: [a.address] })
    const ids: string[] = []
    for (const text of ['one', 'two', 'three']) {
      const r = await burrow(a.home, ['send', b.peerId, text, '--json'])
      assert.equal(r.code, 0, r.stderr)
      ids.push((JSON.parse(r.stdout) as { id: string }).id)
    }
    const read = async (args: string[]): Promise<Line[]> => {
      const r = await burrow(b.home, ['inbox', '--json', ...args])
      assert.equal(r.code, 0, r.stderr)
      return r.stdout.trim().split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Line)
    }
    const all = await read([])
    assert.deepEqual(all.map(m => m.text), ['one', 'two', 'three'])
    assert.deepEqual((await read(['--since', ids[0] ?? ''])).map(m => m.text), ['two', 'three'])
    assert.deepEqual((await read(['--since', all[1]?.receivedAt ?? ''])).map(m => m.text).filter(t => t !== 'one'), ['two', 'three'])
    const unknown = await burrow(b.home, ['inbox', '--since', 'no-such-id'])
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /^burrow: ERR_NOT_FOUND: no message with id no-such-id in the inbox/)

    // --follow --since the last id: only what arrives from now on
    const follow = spawn(process.execPath, [CLI, '--home', b.home, 'inbox', '--follow', '--json', '--since', ids[2] ?? ''], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(follow)
    let out = ''
    follow.stdout.on('data', (d: Buffer) => { out += d.toString() })
    assert.equal((await burrow(a.home, ['send', b.peerId, 'four'])).code, 0)
    await waitFor('the new message on the follower', async () => out.includes('"four"'))
    const texts = out.trim().split('\n').map(l => (JSON.parse(l) as Line).text)
    assert.deepEqual(texts, ['four'])
  })
})
