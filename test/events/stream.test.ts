/**
 * Issue 11, the event stream on loopback: the library's typed 'event' on createNode()
 * (a listener that throws cannot crash the node), `GET /v1/events` on the control
 * socket (NDJSON, replay with `since`, its share of the request slots, closed on stop)
 * and `burrow events`.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { join } from 'node:path'
import * as burrow from '../../dist/index.js'
import { spawn } from 'node:child_process'
import { CLI, burrow as cli, startDaemon, stopDaemon, stopAll, tempHome, waitFor } from '../helpers/burrow.ts'
import type { IncomingMessage } from 'node:http'

type Ev = burrow.BurrowEvent

/** Opens GET /v1/events on a daemon's socket; `lines` fills as events arrive. */
async function openEvents (home: string, query = ''): Promise<{ res: IncomingMessage, lines: Ev[], body: () => string, ended: Promise<void>, close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(home, 'burrow.sock'), path: `/v1/events${query}` }, (res) => {
      let text = ''
      const lines: Ev[] = []
      res.on('data', (d: Buffer) => {
        text += d.toString()
        lines.splice(0, lines.length, ...text.split('\n').filter(l => l.startsWith('{"seq"')).map(l => JSON.parse(l) as Ev))
      })
      const ended = new Promise<void>(resolve => { res.on('close', () => { resolve() }) })
      resolve({ res, lines, body: () => text, ended, close: () => { req.destroy() } })
    })
    req.on('error', reject)
    req.end()
  })
}

describe('event stream on loopback', () => {
  const nodes: burrow.BurrowNode[] = []
  after(async () => {
    for (const n of nodes) await n.stop().catch(() => {})
    await stopAll()
  })

  it('createNode() gives typed events: connection opened direct, message received and delivered; a throwing listener harms nothing', async () => {
    const make = async (label: string): Promise<burrow.BurrowNode> => {
      const node = await burrow.createNode({ home: await tempHome(label), config: { network: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], portMapping: 'off' } })
      nodes.push(node)
      return node
    }
    const a = await make('events-a')
    const b = await make('events-b')
    const seenA: Ev[] = []
    const seenB: Ev[] = []
    a.addEventListener('event', () => { throw new Error('a bad listener') })
    a.addEventListener('event', (evt) => { seenA.push(evt.detail) })
    b.addEventListener('event', (evt) => { seenB.push(evt.detail) })
    await a.start()
    await b.start()
    const bAddr = b.libp2p.getMultiaddrs().find(m => m.toString().startsWith('/ip4/127.0.0.1/'))
    assert.ok(bAddr != null)
    await a.dial(bAddr.toString())
    const sent = await a.send(b.peerId, 'hello events')

    const opened = seenA.find(e => e.type === 'connection:opened' && e.data.peer === b.peerId.toString())
    assert.ok(opened?.type === 'connection:opened')
    assert.equal(opened.data.path, 'direct')
    assert.equal(opened.data.direction, 'outbound')
    assert.match(opened.data.remoteAddress, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/)
    const delivered = await waitFor('message:delivered on A', async () => seenA.find(e => e.type === 'message:delivered'))
    assert.deepEqual(delivered.data, { id: sent.id, to: b.peerId.toString() })
    const received = await waitFor('message:received on B', async () => seenB.find(e => e.type === 'message:received'))
    assert.ok(received.type === 'message:received')
    assert.equal(received.data.from, a.peerId.toString())
    assert.equal(received.data.bytes, 'hello events'.length)
    assert.equal(received.data.via, 'direct')
    assert.ok(seenB.some(e => e.type === 'connection:opened' && e.data.direction === 'inbound' && e.data.peer === a.peerId.toString()))
    // the ring keeps them, in order, for a late reader
    assert.deepEqual(a.recentEvents().map(e => e.seq), seenA.map(e => e.seq))
    assert.deepEqual(a.recentEvents(delivered.seq - 1)[0], delivered)
    assert.ok(seenA.every(e => e.time === new Date(Date.parse(e.time)).toISOString()))

    const bId = b.peerId.toString()
    await b.stop()
    await waitFor('connection:closed on A', async () => seenA.find(e => e.type === 'connection:closed' && e.data.peer === bId))
    assert.equal(a.lastEventSeq, seenA[seenA.length - 1]?.seq)
    await a.stop()
  })

  it('GET /v1/events streams NDJSON as it happens, replays with since, keeps to half the request slots, ends on stop; burrow events prints it', async () => {
    const a = await startDaemon('ev-a', { env: { BURROW_CONTROL_MAX_CONCURRENT_REQUESTS: '4' } })
    const live = await openEvents(a.home)
    const b = await startDaemon('ev-b', { bootstrap: [a.address] })
    assert.equal(live.res.statusCode, 200)
    assert.equal(live.res.headers['content-type'], 'application/x-ndjson')
    const sent = await cli(a.home, ['send', b.peerId, 'over the stream', '--json'])
    assert.equal(sent.code, 0, sent.stderr)
    const id = (JSON.parse(sent.stdout) as { id: string }).id
    await waitFor('message:delivered on the live stream', async () => live.lines.find(e => e.type === 'message:delivered' && e.data.id === id))
    const opened = live.lines.find(e => e.type === 'connection:opened')
    assert.ok(opened?.type === 'connection:opened' && opened.data.peer === b.peerId && opened.data.path === 'direct')
    // since=0 replays what happened before it was opened, then follows
    const second = await openEvents(a.home, '?since=0')
    await waitFor('the replay', async () => second.lines.find(e => e.type === 'message:delivered' && e.data.id === id))
    assert.deepEqual(second.lines.map(e => e.seq), live.lines.map(e => e.seq).slice(0, second.lines.length))
    // 4 slots: two event streams at most, and status still answers
    const third = await openEvents(a.home)
    assert.equal(third.res.statusCode, 503)
    await third.ended
    assert.equal((JSON.parse(third.body()) as { error: { code: string } }).error.code, 'ERR_CONTROL_BUSY')
    const st = await cli(a.home, ['status', '--json'])
    assert.equal(st.code, 0, st.stderr)

    // the kept events, with no follow: the CLI in both forms
    const json = await cli(a.home, ['events', '--json', '--since', '0', '--no-follow'])
    assert.equal(json.code, 0, json.stderr)
    const kept = json.stdout.trim().split('\n').map(l => JSON.parse(l) as Ev)
    assert.ok(kept.some(e => e.type === 'message:delivered' && e.data.id === id))
    const human = await cli(a.home, ['events', '--since', '0', '--no-follow'])
    assert.match(human.stdout, new RegExp(`^\\S+Z  message ${id} acked by `, 'm'))
    const bad = await cli(a.home, ['events', '--since', 'yesterday'])
    assert.equal(bad.code, 1, bad.stderr)
    assert.match(bad.stderr, /ERR_INVALID_INPUT: --since yesterday: must be an event sequence number/)

    // one stream closed frees its slot
    second.close()
    await second.ended
    const again = await waitFor('a free event stream slot', async () => {
      const s = await openEvents(a.home)
      if (s.res.statusCode === 200) return s
      s.close()
      return undefined
    })
    // the daemon's stop ends the streams (no reader keeps it up)
    assert.equal(await stopDaemon(a), 0)
    await live.ended
    await again.ended
    await stopDaemon(b)
  })

  it('burrow status --watch redraws when the node reports a change (a peer connects), without polling', async () => {
    const a = await startDaemon('watch-a')
    const watcher = spawn(process.execPath, [CLI, '--home', a.home, 'status', '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    watcher.stdout.on('data', (d: Buffer) => { out += d.toString() })
    watcher.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const exited = new Promise<number | null>(resolve => { watcher.on('exit', resolve) })
    try {
      await waitFor('the first status', async () => /^connections:\s+none$/m.test(out))
      const b = await startDaemon('watch-b', { bootstrap: [a.address] })
      await waitFor('a redraw showing B connected', async () => out.split(/^--- /m).slice(2).some(block => block.includes(`  ${b.peerId} direct`)))
      // the daemon stops: the stream ends, so does the watch
      await stopDaemon(a)
      assert.equal(await exited, 0, out)
      await stopDaemon(b)
    } finally {
      if (watcher.exitCode == null) watcher.kill('SIGKILL')
    }
  })
})
