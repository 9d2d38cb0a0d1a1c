/**
 * The live view's server on loopback (issue 11, "a live view"): two library nodes, the
 * UiServer of one of them, plain HTTP. Status as JSON, the event stream (replay and live),
 * the dial and send actions and what guards them (this run's token, same origin, loopback
 * Host names, bounded bodies), and the config's loopback rule.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import * as burrow from '../../dist/index.js'
import { UiServer } from '../../dist/ui/index.js'
import { loadConfig } from '../../dist/config/index.js'
import { tempHome } from '../helpers/burrow.ts'
import type { IncomingMessage } from 'node:http'

interface Reply { status: number, headers: IncomingMessage['headers'], body: string }

async function http (url: string, options: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

describe('live view server on loopback', () => {
  let a: burrow.BurrowNode
  let b: burrow.BurrowNode
  let ui: UiServer
  let url: string
  let token: string

  before(async () => {
    const make = async (label: string): Promise<burrow.BurrowNode> => {
      const node = await burrow.createNode({ home: await tempHome(label), config: { network: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], portMapping: 'off' } })
      await node.start()
      return node
    }
    a = await make('ui-a')
    b = await make('ui-b')
    ui = new UiServer({ address: '127.0.0.1:0', node: b })
    await ui.start()
    url = ui.url!
    const page = await http(url)
    token = /<meta name="burrow-ui-token" content="([A-Za-z0-9_-]+)">/.exec(page.body)?.[1] ?? ''
  })
  after(async () => {
    await ui?.stop()
    await b?.stop()
    await a?.stop()
  })

  it('serves one self-contained page with a per-run token and a CSP that allows nothing from elsewhere', async () => {
    const page = await http(url)
    assert.equal(page.status, 200)
    assert.match(String(page.headers['content-type']), /^text\/html/)
    assert.ok(token.length >= 32, 'the page carries a token')
    assert.doesNotMatch(page.body, /\b(src|href)="(https?:)?\/\//, 'no script, style or image from another host')
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'.*connect-src 'self'/)
    const other = new UiServer({ address: '127.0.0.1:0', node: b })
    await other.start()
    try {
      const otherToken = /content="([A-Za-z0-9_-]+)"/.exec((await http(other.url!)).body)?.[1]
      assert.notEqual(otherToken, token, 'each run has its own token')
    } finally {
      await other.stop()
    }
    assert.equal((await http(`${url}nope`)).status, 404)
  })

  it('GET /api/status: the node\'s status, inbox and outbox', async () => {
    const snap = JSON.parse((await http(`${url}api/status`)).body) as { status: { peerId: string, reachability: string }, inbox: unknown[], outbox: unknown[] }
    assert.equal(snap.status.peerId, b.peerId.toString())
    assert.ok(['public', 'private', 'unknown'].includes(snap.status.reachability))
    assert.ok(Array.isArray(snap.inbox) && Array.isArray(snap.outbox))
  })

  it('a POST without the token, with a wrong one or from another origin is refused and does nothing', async () => {
    const body = JSON.stringify({ to: a.peerId.toString(), body: 'should not arrive' })
    const attempts: Array<Record<string, string>> = [
      { 'content-type': 'application/json' },
      { 'content-type': 'text/plain' }, // what a cross-site <form> can send
      { 'content-type': 'application/json', 'x-burrow-ui-token': 'x'.repeat(token.length) },
      { 'content-type': 'application/json', 'x-burrow-ui-token': token, origin: 'http://evil.example' }
    ]
    for (const headers of attempts) {
      const r = await http(`${url}api/send`, { method: 'POST', headers, body })
      assert.equal(r.status, 403, JSON.stringify(headers))
      assert.match(JSON.parse(r.body).error, /^ERR_UI_FORBIDDEN: /)
    }
    assert.equal((await a.inbox()).filter(m => new TextDecoder().decode(m.body) === 'should not arrive').length, 0)
  })

  it('a Host that is not a loopback name is refused (DNS rebinding)', async () => {
    const port = new URL(url).port
    const r = await http(`${url}api/status`, { headers: { host: `evil.example:${port}` } })
    assert.equal(r.status, 421)
    assert.match(r.body, /^ERR_UI_HOST: /)
    assert.equal((await http(`${url}api/status`, { headers: { host: `localhost:${port}` } })).status, 200)
  })

  it('dial and send with the token: a connection event on the stream, the message in the peer\'s inbox; a bad body gets one line', async () => {
    // the stream, opened before the dial: replay first, then live
    const frames: string[] = []
    const stream = request(`${url}api/events?since=0`)
    const opened = new Promise<IncomingMessage>((resolve, reject) => { stream.on('response', resolve); stream.on('error', reject) })
    stream.end()
    const res = await opened
    assert.match(String(res.headers['content-type']), /^text\/event-stream/)
    res.on('data', (d: Buffer) => { frames.push(d.toString()) })
    try {
      const headers = { 'content-type': 'application/json', 'x-burrow-ui-token': token, origin: new URL(url).origin }
      const aAddr = a.libp2p.getMultiaddrs().find(m => m.toString().startsWith('/ip4/127.0.0.1/'))!.toString()
      const dialled = await http(`${url}api/dial`, { method: 'POST', headers, body: JSON.stringify({ target: aAddr }) })
      assert.equal(dialled.status, 200, dialled.body)
      assert.equal(JSON.parse(dialled.body).peerId, a.peerId.toString())
      const text = `from the ui ${Date.now()}`
      const sent = await http(`${url}api/send`, { method: 'POST', headers, body: JSON.stringify({ to: a.peerId.toString(), body: text }) })
      assert.equal(sent.status, 200, sent.body)
      assert.equal(JSON.parse(sent.body).status, 'OK')
      assert.equal((await a.inbox()).filter(m => new TextDecoder().decode(m.body) === text).length, 1, 'A received it')
      const deadline = Date.now() + 10_000
      while (!frames.join('').includes('"type":"message:delivered"') && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
      const events = frames.join('').split('\n\n').filter(f => f.includes('data: ')).map(f => JSON.parse(f.slice(f.indexOf('data: ') + 6)) as burrow.BurrowEvent)
      assert.ok(events.some(e => e.type === 'connection:opened' && e.data.peer === a.peerId.toString()), 'the dial\'s connection came down the stream')
      assert.ok(events.some(e => e.type === 'message:delivered'), 'and the ack')
      assert.match(frames.join(''), /^id: \d+$/m, 'frames carry the seq as id, for Last-Event-ID')

      const bad = await http(`${url}api/send`, { method: 'POST', headers, body: JSON.stringify({ to: 42 }) })
      assert.equal(bad.status, 400)
      assert.match(JSON.parse(bad.body).error, /^ERR_UI_BODY: /)
      const huge = await http(`${url}api/send`, { method: 'POST', headers, body: JSON.stringify({ to: a.peerId.toString(), body: 'x'.repeat(200_000) }) }).catch((err: Error) => ({ status: -1, body: err.message }))
      assert.ok(huge.status === 400 || huge.status === -1, `an oversized body is cut off: ${huge.status}`)
      assert.equal((await a.inbox()).filter(m => m.body.byteLength >= 200_000).length, 0)
    } finally {
      stream.destroy()
    }
  })

  it('a taken port fails with one ERR_UI_LISTEN line', async () => {
    const taken = new UiServer({ address: `127.0.0.1:${new URL(url).port}`, node: b })
    await assert.rejects(taken.start(), (err: Error & { code?: string }) => err.code === 'ERR_UI_LISTEN' && /cannot serve the live view on 127\.0\.0\.1:\d+ \(EADDRINUSE\): pick another --ui/.test(err.message))
  })

  it('config: ui off loopback needs uiPublic', async () => {
    const home = await tempHome('ui-config')
    await assert.rejects(loadConfig({ home, flags: { ui: '0.0.0.0:8080' } }), (err: Error) => /ui = "0\.0\.0\.0:8080" .*not a loopback address.*--ui-public/.test(err.message))
    assert.equal((await loadConfig({ home, flags: { ui: '0.0.0.0:8080', uiPublic: true } })).ui, '0.0.0.0:8080')
    assert.equal((await loadConfig({ home })).ui, null, 'off by default')
  })
})
