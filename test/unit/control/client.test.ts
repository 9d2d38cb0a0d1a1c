/**
 * The control client speaks HTTP/1.1 itself over node:net (issue 14: node:http cost the
 * CLI ~6 MB of RSS per command). These run it against a real node:http server (what the
 * daemon uses) and a raw net server (for answers node:http would never send) on a Unix
 * socket in a temp dir.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { mkdtemp, rm, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { ControlClient } from '../../../src/control/client.ts'
import { RemoteError, UntrustedSocketError } from '../../../src/control/errors.ts'
import type { IncomingMessage, ServerResponse, Server } from 'node:http'
import type { Server as NetServer, Socket } from 'node:net'

const run = promisify(execFile)

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void

interface Seen { method: string, url: string, headers: Record<string, string | string[] | undefined>, body: string }

describe('control client (HTTP/1.1 over node:net)', () => {
  let home = ''
  let server: Server | NetServer | undefined
  const seen: Seen[] = []
  const rawSockets = new Set<Socket>()

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'burrow-httpc-'))
    await chmod(home, 0o700)
  })
  after(async () => {
    await stop()
    await rm(home, { recursive: true, force: true })
  })

  async function stop (): Promise<void> {
    const s = server
    server = undefined
    if (s == null) return
    if ('closeAllConnections' in s) s.closeAllConnections()
    for (const socket of rawSockets) socket.destroy()
    rawSockets.clear()
    await new Promise<void>((resolve) => { s.close(() => { resolve() }) })
  }

  async function listen (s: Server | NetServer): Promise<ControlClient> {
    await stop()
    server = s
    const path = join(home, 'burrow.sock')
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.listen(path, () => { resolve() })
    })
    await chmod(path, 0o600)
    return new ControlClient(home)
  }

  /** A node:http server, like the daemon's; reads the whole body unless the handler answers first. */
  async function http (handler: Handler, readBody = true): Promise<ControlClient> {
    seen.length = 0
    return listen(createServer((req, res) => {
      if (!readBody) {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '' })
        handler(req, res, '')
        return
      }
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
        handler(req, res, body)
      })
    }))
  }

  /** A raw server: writes `answer` (after reading the request head), then does `then`. */
  async function raw (answer: (socket: Socket) => void): Promise<ControlClient> {
    return listen(createNetServer((socket) => {
      rawSockets.add(socket)
      let head = ''
      socket.on('data', (c: Buffer) => {
        if (head.includes('\r\n\r\n')) return
        head += c.toString('latin1')
        if (head.includes('\r\n\r\n')) answer(socket)
      })
      socket.on('error', () => {})
    }))
  }

  function json (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(value)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
    res.end(text)
  }

  it('GET and POST: a Content-Length JSON answer; sends Host, Content-Type, Content-Length, Connection: close', async () => {
    const client = await http((req, res, body) => {
      json(res, 200, { method: req.method, got: body === '' ? null : JSON.parse(body), text: 'héllo ✓' })
    })
    assert.deepEqual(await client.get('/status'), { method: 'GET', got: null, text: 'héllo ✓' })
    assert.equal(seen[0]?.url, '/v1/status')
    assert.equal(seen[0]?.headers.connection, 'close')
    assert.equal(seen[0]?.headers.host, 'localhost')
    const payload = { peer: '12D3KooW', body: 'ü'.repeat(50_000) }
    assert.deepEqual(await client.post('/send', payload), { method: 'POST', got: payload, text: 'héllo ✓' })
    assert.equal(seen[1]?.url, '/v1/send')
    assert.equal(seen[1]?.headers['content-type'], 'application/json')
    assert.equal(seen[1]?.headers['content-length'], String(Buffer.byteLength(JSON.stringify(payload))))
  })

  it('stream(): chunked NDJSON, split mid-line and mid-character, onOpen first, then a streamed error', async () => {
    const lines = Buffer.from([{ n: 1, s: 'a✓b' }, { n: 2, s: '€'.repeat(3) }, { n: 3 }].map((v) => JSON.stringify(v) + '\n').join(''))
    const client = await http((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      // cut every 5 bytes: lines and multi-byte characters land in separate chunks
      let at = 0
      const next = (): void => {
        if (at >= lines.length) {
          res.write(JSON.stringify({ error: { code: 'ERR_PEER_GONE', message: 'the peer went away' } }) + '\n')
          res.end()
          return
        }
        res.write(lines.subarray(at, at + 5))
        at += 5
        setTimeout(next, 2)
      }
      next()
    })
    const got: unknown[] = []
    let opened = false
    await assert.rejects(async () => {
      for await (const v of client.stream('GET', '/events', undefined, undefined, () => { opened = true; got.push('open') })) got.push(v)
    }, (err: unknown) => err instanceof RemoteError && err.code === 'ERR_PEER_GONE' && err.message === 'the peer went away')
    assert.equal(opened, true)
    assert.deepEqual(got, ['open', { n: 1, s: 'a✓b' }, { n: 2, s: '€€€' }, { n: 3 }])
    assert.equal(seen[0]?.headers['transfer-encoding'], undefined, 'a GET carries no body')
  })

  it('stream(): leaving the loop early closes the connection', async () => {
    let closed!: () => void
    const gone = new Promise<void>((resolve) => { closed = resolve })
    const client = await http((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      const timer = setInterval(() => { res.write('{"tick":1}\n') }, 5)
      res.on('close', () => { clearInterval(timer); closed() })
    })
    let n = 0
    for await (const _v of client.stream('GET', '/events')) if (++n === 3) break
    await gone
    assert.equal(n, 3)
  })

  it('stream(): an abort signal ends it with an AbortError and closes the connection', async () => {
    let closed!: () => void
    const gone = new Promise<void>((resolve) => { closed = resolve })
    const client = await http((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      res.write('{"tick":1}\n')
      res.on('close', () => { closed() })
    })
    const controller = new AbortController()
    const got: unknown[] = []
    await assert.rejects(async () => {
      for await (const v of client.stream('GET', '/events', undefined, controller.signal)) {
        got.push(v)
        controller.abort()
      }
    }, (err: unknown) => (err as Error).name === 'AbortError')
    await gone
    assert.deepEqual(got, [{ tick: 1 }])
  })

  it('daemon errors: code, message and status from the JSON body (404, 413 unread body, 503 Retry-After)', async () => {
    let client = await http((_req, res) => {
      json(res, 404, { error: { name: 'NotFoundError', code: 'ERR_NOT_FOUND', message: 'no such message' } })
    })
    await assert.rejects(client.get('/outbox/x'), (err: unknown) =>
      err instanceof RemoteError && err.code === 'ERR_NOT_FOUND' && err.message === 'no such message' && err.status === 404)

    client = await http((_req, res) => {
      json(res, 503, { error: { name: 'ControlBusyError', code: 'ERR_CONTROL_BUSY', message: 'busy; retry' } }, { 'retry-after': '1', connection: 'close' })
    })
    await assert.rejects(client.get('/status'), (err: unknown) => err instanceof RemoteError && err.code === 'ERR_CONTROL_BUSY' && err.status === 503)

    // like the daemon: 413 on the declared size, then close without reading the 4 MiB body
    client = await http((_req, res) => {
      res.setHeader('connection', 'close')
      json(res, 413, { error: { name: 'RequestTooLargeError', code: 'ERR_REQUEST_TOO_LARGE', message: 'at most 2097152 bytes' } })
    }, false)
    await assert.rejects(client.post('/send', { body: 'x'.repeat(4 * 1024 * 1024) }), (err: unknown) =>
      err instanceof RemoteError && err.code === 'ERR_REQUEST_TOO_LARGE' && err.status === 413)

    client = await http((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' })
      res.end('oops\n')
    })
    await assert.rejects(client.get('/status'), (err: unknown) => err instanceof RemoteError && err.code === 'ERR_DAEMON' && /answered 500: oops/.test(err.message))
  })

  it('a daemon that closes mid-answer: one ERR_CONTROL_PROTOCOL line, not a hang or a parse error', async () => {
    let client = await raw((socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"peerId":"12D3')
    })
    await assert.rejects(client.get('/status'), (err: unknown) => isProtocol(err, /closed the connection in the middle of its answer \(85 bytes short/))

    client = await raw((socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n{"tick":1}\n\r\n20\r\n{"ti')
    })
    const got: unknown[] = []
    await assert.rejects(async () => {
      for await (const v of client.stream('GET', '/events')) got.push(v)
    }, (err: unknown) => isProtocol(err, /closed the connection in the middle of its answer \(before the last chunk\)/))
    assert.deepEqual(got, [{ tick: 1 }])

    client = await raw((socket) => { socket.end() })
    await assert.rejects(client.get('/status'), (err: unknown) => isProtocol(err, /closed the connection before answering/))
  })

  it('bounds: headers over 64 KiB, an announced body over 64 MiB, garbage: refused in one line', async () => {
    let client = await raw((socket) => {
      socket.end(`HTTP/1.1 200 OK\r\nX-Junk: ${'a'.repeat(70 * 1024)}\r\nContent-Length: 2\r\n\r\n{}`)
    })
    await assert.rejects(client.get('/status'), (err: unknown) => isProtocol(err, /sent more than 65536 bytes of headers/))

    client = await raw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n{')
    })
    await assert.rejects(client.get('/status'), (err: unknown) => isProtocol(err, /announced an answer of 104857600 bytes/))

    client = await raw((socket) => { socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n') })
    await assert.rejects(client.get('/status'), (err: unknown) => isProtocol(err, /not an HTTP\/1\.1 status line/))

    client = await raw((socket) => { socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n') })
    await assert.rejects(client.get('/status'), (err: unknown) => isProtocol(err, /malformed chunk size 'zz'/))
  })

  it('a socket open to others: refused before anything is sent', async () => {
    const client = await http((_req, res) => { json(res, 200, {}) })
    await chmod(join(home, 'burrow.sock'), 0o666)
    await assert.rejects(client.get('/status'), (err: unknown) => err instanceof UntrustedSocketError && /open to group or others/.test(err.message))
    assert.equal(seen.length, 0)
  })

  it('loading the client does not load node:http', async () => {
    const url = new URL('../../../dist/control/client.js', import.meta.url).href
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e',
      `await import(${JSON.stringify(url)}); console.log(JSON.stringify(process.moduleLoadList.filter((m) => /^NativeModule (_?http|https)\\b/.test(m))))`])
    assert.deepEqual(JSON.parse(stdout), [])
  })
})

function isProtocol (err: unknown, message: RegExp): boolean {
  const e = err as { code?: string, message?: string }
  assert.equal(e.code, 'ERR_CONTROL_PROTOCOL', String(err))
  assert.match(e.message ?? '', message)
  assert.equal((e.message ?? '').includes('\n'), false)
  return true
}
