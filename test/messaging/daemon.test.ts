/**
 * Issue 10 against the real daemon (dist/cli, LevelDB on disk, the control socket):
 * acceptance 1 (poisoned timestamps: `inbox` and `inbox --follow` keep going, the daemon
 * stays up, also with a poisoned record already on disk) and acceptance 4 (six fresh
 * identities cannot grow the inbox past its quota; half-sent frames of 12 peers stay
 * within the in-flight budget). Every daemon and child is killed by PID in after().
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { MESSAGE_PROTOCOL } from '../../dist/messaging/index.js'
import { Ack, Message } from '../../dist/messaging/pb/message.js'
import { InboxRecord } from '../../dist/messaging/pb/store.js'
import { CLI, burrow, burrowJson, startDaemon, stopAll as stopDaemons, stopDaemon, waitFor } from '../helpers/burrow.ts'
import { createNode, createPeer, sendRaw, stopAll as stopPeers, text } from './helpers.ts'
import type { InboxFullError } from '../../dist/messaging/index.js'
import type { NodeStatus } from '../../dist/node/types.js'
import type { Libp2p, Stream } from '@libp2p/interface'
import type { ChildProcess } from 'node:child_process'

const MiB = 1024 * 1024
const nodes: Libp2p[] = []
const children: ChildProcess[] = []
after(async () => {
  for (const c of children) if (c.exitCode == null && c.signalCode == null) c.kill('SIGKILL')
  await stopPeers()
  await Promise.allSettled(nodes.map(async n => n.stop()))
  await stopDaemons()
})

async function bareNode (): Promise<Libp2p> {
  const node = await createNode()
  nodes.push(node)
  return node
}

interface InboxLine { id: string, sentAt: string | null, text?: string }

function lines (stdout: string): InboxLine[] {
  return stdout.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as InboxLine)
}

/** The daemon takes at most 5 inbound connections a second from one host (libp2p's default): stay under it. */
async function spaced (): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, 300))
}

async function dirBytes (dir: string): Promise<number> {
  let total = 0
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size
  return total
}

describe('messaging against the daemon: poisoned timestamps', () => {
  it('refuses them; `inbox` and `inbox --follow` keep showing later messages, also after a restart with a poisoned record on disk', async () => {
    const d = await startDaemon('poison')
    const follow = spawn(process.execPath, [CLI, '--home', d.home, 'inbox', '--follow', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(follow)
    let followed = ''
    follow.stdout.on('data', (b: Buffer) => { followed += b.toString() })
    await new Promise(resolve => setTimeout(resolve, 500)) // let the follower subscribe (it also lists what it missed)

    const mallory = await bareNode()
    const to = multiaddr(d.address)
    const body = text('poison')
    for (const sentAtMs of [2n ** 63n, 2n ** 64n - 1n, 2n ** 53n + 1n]) {
      const acks = await sendRaw(mallory, to, [{ id: `poison-${sentAtMs}`, sentAtMs, body }])
      assert.equal(acks[0]?.status, Ack.Status.MALFORMED, `sentAtMs ${sentAtMs} refused`)
    }
    const acks = await sendRaw(mallory, to, [{ id: 'later-1', sentAtMs: BigInt(Date.now()), body: text('later one') }])
    assert.equal(acks[0]?.status, Ack.Status.OK)

    await waitFor('the follower to show the later message', async () => lines(followed).some(l => l.id === 'later-1'))
    assert.equal(follow.exitCode, null, 'inbox --follow still attached')
    assert.equal(d.child.exitCode, null, 'the daemon is up')
    const listed = await burrow(d.home, ['inbox', '--json'])
    assert.equal(listed.code, 0, listed.stderr)
    assert.deepEqual(lines(listed.stdout).map(l => l.id), ['later-1'])
    follow.kill('SIGTERM')

    // a record the code before issue 10 stored (and acked OK), then a restart
    assert.equal(await stopDaemon(d), 0)
    const datastore = new LevelDatastore(join(d.home, 'datastore'))
    await datastore.open()
    const seq = Number(new TextDecoder().decode(await datastore.get(new Key('/burrow/inbox/meta/next-seq'))))
    await datastore.put(new Key(`/burrow/inbox/msg/${String(seq).padStart(16, '0')}`), InboxRecord.encode({
      id: 'old-poison', from: mallory.peerId.toString(), sentAtMs: 2n ** 63n, receivedAtMs: BigInt(Date.now()), body, relayed: false
    }))
    await datastore.put(new Key('/burrow/inbox/meta/next-seq'), text(String(seq + 1)))
    await datastore.close()

    const again = await startDaemon('poison-again', { home: d.home })
    const acks2 = await sendRaw(mallory, multiaddr(again.address), [{ id: 'later-2', sentAtMs: BigInt(Date.now()), body: text('later two') }])
    assert.equal(acks2[0]?.status, Ack.Status.OK)
    const relisted = await burrow(again.home, ['inbox', '--json'])
    assert.equal(relisted.code, 0, relisted.stderr)
    assert.deepEqual(lines(relisted.stdout).map(l => l.id), ['later-1', 'later-2'], 'the poisoned record is skipped, both later ones shown')
    const status = await burrowJson<NodeStatus>(again.home, ['status'])
    assert.equal(status.messages.inbox.skipped, 1)
  })
})

describe('messaging against the daemon: bounded disk and memory', () => {
  it('six fresh identities sending 1 MiB messages cannot grow the datastore past the total quota; they get QUOTA_EXCEEDED and keep them queued', async () => {
    const quota = 3.5 * MiB
    const d = await startDaemon('quota', { env: { BURROW_MESSAGES_INBOX_MAX_BYTES: String(quota) } })
    const before = await dirBytes(join(d.home, 'datastore'))
    const senders = await Promise.all(Array.from({ length: 6 }, async () => createPeer({ retryIntervalMs: 60_000 })))
    for (const s of senders) {
      await s.node.dial(multiaddr(d.address))
      await spaced()
    }
    const results = await Promise.allSettled(senders.flatMap(s => [0, 1].map(async i =>
      s.messaging.send(peerIdFromString(d.peerId), new Uint8Array(MiB).fill(i), { id: `big-${i}` }))))

    const ok = results.filter(r => r.status === 'fulfilled').length
    const full = results.filter(r => r.status === 'rejected' && (r.reason as InboxFullError).code === 'ERR_PEER_INBOX_FULL')
    assert.equal(ok + full.length, 12, `every message was stored or refused for the quota: ${results.filter(r => r.status === 'rejected').map(r => String((r as PromiseRejectedResult).reason)).join('; ')}`)
    assert.equal(ok, 3, 'three 1 MiB messages fit in 3.5 MiB')
    for (const r of full) {
      const err = (r as PromiseRejectedResult).reason as InboxFullError
      assert.equal(err.code, 'ERR_PEER_INBOX_FULL')
      assert.equal(err.queued, true)
      assert.match(err.message, /queued in the outbox/)
    }
    const pending = (await Promise.all(senders.map(async s => s.messaging.outbox()))).flat()
    assert.equal(pending.length, 9, 'the refused messages stay in their senders\' outboxes')
    assert.ok(pending.every(e => e.state === 'pending' && e.lastError?.startsWith('QUOTA_EXCEEDED') === true))

    const status = await burrowJson<NodeStatus>(d.home, ['status'])
    assert.equal(status.messages.inbox.count, 3)
    assert.ok(status.messages.inbox.bytes <= status.messages.inbox.maxBytes, `${status.messages.inbox.bytes} <= ${status.messages.inbox.maxBytes}`)
    assert.equal(status.messages.inbox.maxBytes, quota)
    const grown = await dirBytes(join(d.home, 'datastore')) - before
    console.log(`datastore grew by ${(grown / MiB).toFixed(2)} MiB with a quota of ${quota / MiB} MiB (12 MiB offered)`)
    assert.ok(grown <= quota + MiB, `the datastore grew by ${grown} bytes, over the quota of ${quota} (+1 MiB for LevelDB's own files)`)

    // the user empties the inbox: its room comes back and a queued message gets in
    const cleared = await burrow(d.home, ['inbox', '--clear'])
    assert.equal(cleared.code, 0, cleared.stderr)
    assert.match(cleared.stdout, /deleted 3 message/)
    assert.equal((await burrowJson<NodeStatus>(d.home, ['status'])).messages.inbox.count, 0)
    const retried = await senders[0]!.messaging.send(peerIdFromString(d.peerId), new Uint8Array(MiB).fill(9), { id: 'after-clear' })
    assert.equal(retried.status, 'OK')
  })

  it('12 peers holding half-sent 1 MiB frames stay within the in-flight budget; the excess is refused and the budget comes back', async () => {
    const budget = 4 * MiB
    const d = await startDaemon('inflight', { env: { BURROW_MESSAGES_IN_FLIGHT_MAX_BYTES: String(budget) } })
    const frame = Message.encode({ id: 'half', sentAtMs: BigInt(Date.now()), body: new Uint8Array(MiB) })
    const streams: Stream[] = []
    const answers: Ack[] = []
    for (let i = 0; i < 12; i++) {
      const peer = await bareNode()
      await spaced()
      const stream = await peer.dialProtocol(multiaddr(d.address), MESSAGE_PROTOCOL)
      streams.push(stream)
      const lp = lpStream(stream)
      void lp.read({ signal: AbortSignal.timeout(60_000) }).then(b => { answers.push(Ack.decode(b)) }, () => {})
      // the varint length of the whole frame, then only half of it, and hold
      const len: number[] = []
      for (let n = frame.byteLength; ; n = Math.floor(n / 128)) { if (n < 128) { len.push(n); break } len.push((n % 128) | 128) }
      stream.send(Uint8Array.from(len))
      stream.send(frame.subarray(0, frame.byteLength / 2))
    }
    const status = await waitFor('the daemon to account for all 12 frames', async () => {
      const s = await burrowJson<NodeStatus>(d.home, ['status'])
      return s.messages.inFlight.bytes + s.messages.inFlight.refused * frame.byteLength >= 12 * frame.byteLength ? s : undefined
    }, 30_000)
    assert.equal(status.messages.inFlight.maxBytes, budget)
    assert.ok(status.messages.inFlight.bytes <= budget, `${status.messages.inFlight.bytes} bytes held <= ${budget}`)
    assert.ok(status.messages.inFlight.bytes > 0, 'the frames within the budget are held')
    const fits = Math.floor(budget / frame.byteLength)
    assert.equal(status.messages.inFlight.refused, 12 - fits)
    await waitFor('the refused frames to be answered', async () => answers.length >= 12 - fits)
    assert.deepEqual(answers.map(a => a.status), Array(12 - fits).fill(Ack.Status.RATE_LIMITED), 'the refused frames were answered RATE_LIMITED, the held ones not yet')

    for (const s of streams) s.abort(new Error('test done'))
    await waitFor('the budget to come back', async () => (await burrowJson<NodeStatus>(d.home, ['status'])).messages.inFlight.bytes === 0)
    assert.equal(d.child.exitCode, null, 'the daemon is up')
  })
})
