import { createServer, request as httpRequest } from 'node:http'
import { chmod, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { BurrowError, InvalidInputError } from '../errors/index.js'
import { API_PREFIX, BUSY_RETRY_AFTER_SECONDS, REQUEST_OVERHEAD_BYTES, SOCKET_FILE } from './constants.js'
import { DaemonRunningError } from './errors.js'
import { isValidTimestamp } from '../messaging/index.js'
import { MAX_EVENT_STREAM_BUFFER_BYTES } from '../events/index.js'
import type { BurrowEvent } from '../events/index.js'
import type { InboxMessage, OutboxEntry } from '../messaging/index.js'
import type { BurrowNode } from '../node/index.js'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'

const log = logger('burrow:control:server')

/** HTTP status for each error code the daemon answers with; anything else is 500. */
const STATUS: Record<string, number> = {
  ERR_INVALID_INPUT: 400,
  ERR_INVALID_PEER_ID: 400,
  ERR_INVALID_MULTIADDR: 400,
  ERR_MESSAGE_TOO_LARGE: 413,
  ERR_INVALID_MESSAGE: 400,
  ERR_PEER_NOT_FOUND: 404,
  ERR_DIAL_FAILED: 502,
  ERR_PEER_UNREACHABLE: 504,
  ERR_MESSAGE_REJECTED: 422,
  ERR_TIMEOUT: 504,
  // queued in the outbox, retried later: the receiver asked us to wait (`burrow send` exits 75)
  ERR_MESSAGE_RATE_LIMITED: 503,
  ERR_PEER_INBOX_FULL: 503,
  // the outbox TTL passed: not queued any more
  ERR_MESSAGE_EXPIRED: 410,
  ERR_NOT_FOUND: 404,
  ERR_OUTBOX_BUSY: 409
}

/** The control server's limits; by default the node's `control.*` config. */
export interface ControlServerInit {
  /** largest request body, bytes (raised to fit a base64 message of `messages.maxBytes`) */
  maxRequestBytes?: number
  /** requests in progress at once, streams included; the next is answered 503 */
  maxConcurrentRequests?: number
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, url: URL) => Promise<unknown>

/**
 * The daemon's control API: JSON over HTTP on a Unix socket in the home dir, mode
 * 0600, so only the owner can drive the node (DESIGN.md, Security rules).
 */
export class ControlServer {
  readonly socketPath: string
  private readonly node: BurrowNode
  private server?: Server
  private readonly routes: Record<string, Handler>
  private readonly streams = new Set<ServerResponse>()
  private readonly eventStreams = new Set<ServerResponse>()
  private readonly init: ControlServerInit
  private maxRequestBytes = 0
  private maxConcurrent = 0
  private inFlight = 0

  constructor (node: BurrowNode, home: string, init: ControlServerInit = {}) {
    this.node = node
    this.init = init
    this.socketPath = join(home, SOCKET_FILE)
    this.routes = {
      'GET /status': async () => this.node.status(),
      'GET /peers': async () => this.node.connections(),
      'GET /nat': async () => this.node.nat(),
      'POST /doctor': async (req, res) => this.node.doctor({ signal: abortOnClose(req, res) }),
      'POST /find': async (_req, _res, body) => this.node.find(str(body, 'peer')),
      'POST /dial': async (req, res, body) => {
        const wait = body.waitDirectSeconds
        if (wait == null) return this.node.dial(str(body, 'target'))
        if (typeof wait !== 'number' || !(wait >= 0 && wait <= 3600)) throw new InvalidInputError(`wait-direct = ${String(wait)}: must be a number of seconds from 0 to 3600`)
        const target = str(body, 'target')
        const signal = abortOnClose(req, res)
        res.writeHead(200, { 'content-type': 'application/x-ndjson' })
        try {
          for await (const stage of this.node.dialStages(target, wait * 1000, { signal })) {
            res.write(JSON.stringify(stage) + '\n')
          }
        } catch (err) {
          res.write(JSON.stringify({ error: errorBody(err) }) + '\n')
        }
        res.end()
        return STREAMED
      },
      'POST /send': async (_req, _res, body) => {
        const text = body.text
        const base64 = body.base64
        let payload: string | Uint8Array
        if (typeof text === 'string') payload = text
        else if (typeof base64 === 'string') payload = Buffer.from(base64, 'base64')
        else throw new InvalidInputError("send needs 'text' or 'base64'")
        return this.node.send(str(body, 'peer'), payload, {
          contentType: typeof body.contentType === 'string' ? body.contentType : undefined,
          id: typeof body.id === 'string' ? body.id : undefined
        })
      },
      'GET /inbox': async (req, res, _body, url) => this.inbox(req, res, url),
      'GET /events': async (_req, res, _body, url) => this.events(res, url),
      'POST /inbox/clear': async (_req, _res, body) => {
        const before = body.beforeMs
        if (before != null && (typeof before !== 'number' || !Number.isSafeInteger(before))) throw new InvalidInputError(`beforeMs = ${String(before)}: must be ms since the epoch`)
        return { deleted: await this.node.clearInbox(before != null ? { beforeMs: before } : {}) }
      },
      'GET /config': async () => this.node.config,
      'GET /outbox': async () => (await this.node.outbox()).map(outboxJson),
      'POST /outbox/cancel': async (_req, _res, body) => {
        const id = str(body, 'id')
        const entry = await this.node.cancelOutbox(id)
        if (entry == null) throw new NotFoundError(`no message with id ${id} in the outbox; 'burrow outbox' lists them`)
        return outboxJson(entry)
      },
      'POST /ping': async (req, res, body) => {
        // absent: the node's default (DEFAULT_PING_COUNT)
        const count = body.count === undefined ? undefined : body.count
        if (count !== undefined && (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 10_000)) throw new InvalidInputError(`count = ${String(body.count)}: must be a whole number from 1 to 10000`)
        if (body.untilDirect !== undefined && typeof body.untilDirect !== 'boolean') throw new InvalidInputError('untilDirect: must be true or false')
        const untilDirect = body.untilDirect !== false
        const signal = abortOnClose(req, res)
        res.writeHead(200, { 'content-type': 'application/x-ndjson' })
        try {
          for await (const reply of this.node.ping(str(body, 'peer'), { count, untilDirect, signal })) {
            res.write(JSON.stringify(reply) + '\n')
          }
        } catch (err) {
          res.write(JSON.stringify({ error: errorBody(err) }) + '\n')
        }
        res.end()
        return STREAMED
      }
    }
  }

  async start (): Promise<void> {
    if (this.server != null) return
    const config = this.node.config
    // a send request carries the body base64 in JSON: never refuse what messages.maxBytes allows
    const needed = Math.ceil(config.messages.maxBytes / 3) * 4 + REQUEST_OVERHEAD_BYTES
    this.maxRequestBytes = Math.max(this.init.maxRequestBytes ?? config.control.maxRequestBytes, needed)
    this.maxConcurrent = this.init.maxConcurrentRequests ?? config.control.maxConcurrentRequests
    await this.clearStaleSocket()
    const server = createServer((req, res) => { this.admit(req, res) })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.once('listening', () => { server.off('error', reject); resolve() })
      // The socket file is made by bind(2) with 0777 & ~umask. Under umask 0177 it is born
      // 0600, never wider, not even between bind and a chmod. listen() on a path binds
      // synchronously, so no other code of ours runs while the umask is narrowed.
      const umask = process.umask(0o177)
      try {
        server.listen(this.socketPath)
      } finally {
        process.umask(umask)
      }
    })
    await chmod(this.socketPath, 0o600) // exact, whatever the platform did with the umask
    this.server = server
    log('control API on %s', this.socketPath)
  }

  async stop (): Promise<void> {
    const server = this.server
    if (server == null) return
    this.server = undefined
    for (const res of this.streams) res.end()
    await new Promise<void>(resolve => {
      server.close(() => { resolve() })
      server.closeAllConnections()
    })
    await unlink(this.socketPath).catch(() => {})
  }

  /** A socket file left by a daemon that crashed is removed; a live daemon is an error. */
  private async clearStaleSocket (): Promise<void> {
    const alive = await new Promise<boolean>(resolve => {
      const req = httpRequest({ socketPath: this.socketPath, path: `${API_PREFIX}/status`, timeout: 2000 }, (res) => { res.resume(); resolve(true) })
      req.on('error', () => { resolve(false) })
      req.on('timeout', () => { req.destroy(); resolve(false) })
      req.end()
    })
    if (alive) throw new DaemonRunningError(this.socketPath)
    await unlink(this.socketPath).catch(() => {})
  }

  /**
   * Caps before any work: requests in progress (streams hold their slot until they end)
   * and the declared body size. A request over either gets one clear answer, 503 or 413.
   */
  private admit (req: IncomingMessage, res: ServerResponse): void {
    if (this.inFlight >= this.maxConcurrent) {
      req.resume()
      res.setHeader('connection', 'close')
      res.setHeader('retry-after', String(BUSY_RETRY_AFTER_SECONDS))
      send(res, 503, { error: { name: 'ControlBusyError', code: 'ERR_CONTROL_BUSY', message: `${this.maxConcurrent} control requests are already in progress (control.maxConcurrentRequests); retry when one ends` } })
      return
    }
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > this.maxRequestBytes) {
      this.tooLarge(req, res)
      return
    }
    this.inFlight++
    res.once('close', () => { this.inFlight-- })
    void this.handle(req, res)
  }

  /**
   * 413 at once, whole (its length declared); the rest of the body is read and dropped
   * (nothing kept) until the client has sent it, for TOO_LARGE_LINGER_MS at most, and only
   * then does the response end and the connection close. Closing while the client still wrote
   * made its next write fail (EPIPE), and Node's HTTP client then dropped the 413 it had not
   * read yet: up to 4 in 40 clients sending a declared 3 MiB body got no answer.
   */
  private tooLarge (req: IncomingMessage, res: ServerResponse): void {
    const text = JSON.stringify({ error: { name: 'RequestTooLargeError', code: 'ERR_REQUEST_TOO_LARGE', message: `a control request may carry at most ${this.maxRequestBytes} bytes (control.maxRequestBytes); send a smaller body` } })
    res.writeHead(413, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'close' })
    res.write(text)
    const end = (): void => {
      clearTimeout(linger)
      if (!res.writableEnded) res.end()
    }
    const linger = setTimeout(() => { end(); req.destroy() }, TOO_LARGE_LINGER_MS)
    linger.unref()
    if (req.complete) { end(); return }
    req.once('end', end)
    req.once('close', end)
    req.resume()
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://burrow')
      if (!url.pathname.startsWith(API_PREFIX)) throw new BurrowError('ERR_NOT_FOUND', `no such endpoint ${url.pathname}`)
      const route = this.routes[`${req.method ?? 'GET'} ${url.pathname.slice(API_PREFIX.length)}`]
      if (route == null) throw new BurrowError('ERR_NOT_FOUND', `no such endpoint ${req.method ?? ''} ${url.pathname}`)
      const body = req.method === 'POST' ? await readJson(req, this.maxRequestBytes) : {}
      if (body === TOO_LARGE) {
        this.tooLarge(req, res)
        return
      }
      const result = await route(req, res, body, url)
      if (result === STREAMED) return
      send(res, 200, result)
    } catch (err) {
      const e = errorBody(err)
      if (!(err instanceof BurrowError)) log.error('control request failed - %e', err)
      if (!res.headersSent) send(res, e.code === 'ERR_NOT_FOUND' ? 404 : (STATUS[e.code] ?? 500), { error: e })
      else res.end()
    }
  }

  /**
   * `GET /v1/events[?since=SEQ][&follow=0]`: NDJSON, one event a line (DESIGN.md, "Events").
   * `since` first replays the kept events after that sequence number (0: all kept); then
   * new ones follow until the client hangs up, unless `follow=0`. Event streams may hold
   * at most half of the request slots, so `status` and `send` always get through; a
   * reader that falls MAX_EVENT_STREAM_BUFFER_BYTES behind is cut off, not buffered.
   */
  private async events (res: ServerResponse, url: URL): Promise<typeof STREAMED> {
    const sinceParam = url.searchParams.get('since')
    const since = sinceParam == null ? undefined : Number(sinceParam)
    if (since != null && (!Number.isSafeInteger(since) || since < 0)) throw new InvalidInputError(`since = ${sinceParam ?? ''}: must be an event sequence number (0 or more)`)
    const follow = url.searchParams.get('follow') !== '0'
    const maxStreams = Math.max(1, Math.floor(this.maxConcurrent / 2))
    if (follow && this.eventStreams.size >= maxStreams) {
      res.setHeader('retry-after', String(BUSY_RETRY_AFTER_SECONDS))
      send(res, 503, { error: { name: 'ControlBusyError', code: 'ERR_CONTROL_BUSY', message: `${maxStreams} event streams are already open (half of control.maxConcurrentRequests); close one, or raise the cap` } })
      return STREAMED
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' })
    let lastSeq = 0
    const write = (e: BurrowEvent): void => {
      if (e.seq <= lastSeq || res.destroyed) return
      lastSeq = e.seq
      res.write(JSON.stringify(e) + '\n')
      if (res.writableLength > MAX_EVENT_STREAM_BUFFER_BYTES) {
        log('an events reader fell %d bytes behind: closing its stream', res.writableLength)
        res.destroy()
      }
    }
    const replay = since != null ? this.node.recentEvents(since) : []
    if (!follow) {
      for (const e of replay) write(e)
      res.end()
      return STREAMED
    }
    const onEvent = (evt: CustomEvent<BurrowEvent>): void => { write(evt.detail) }
    this.node.addEventListener('event', onEvent)
    this.streams.add(res)
    this.eventStreams.add(res)
    res.on('close', () => {
      this.node.removeEventListener('event', onEvent)
      this.streams.delete(res)
      this.eventStreams.delete(res)
    })
    for (const e of replay) write(e)
    // the headers go out now: a client knows it is subscribed before the first event
    res.flushHeaders()
    return STREAMED
  }

  private async inbox (req: IncomingMessage, res: ServerResponse, url: URL): Promise<typeof STREAMED> {
    const follow = url.searchParams.get('follow') === '1'
    const since = Number(url.searchParams.get('since') ?? 0)
    if (!Number.isSafeInteger(since) || since < 0) throw new InvalidInputError(`since = ${url.searchParams.get('since') ?? ''}: must be ms since the epoch`)
    // after=ID: only what arrived after that message
    const after = url.searchParams.get('after')
    const listed = async (): Promise<InboxMessage[]> => {
      const all = await this.node.inbox({ since })
      if (after == null) return all
      const i = all.findIndex(m => m.id === after)
      if (i < 0) throw new NotFoundError(`no message with id ${after} in the inbox; 'burrow inbox --json' lists the ids`)
      return all.slice(i + 1)
    }
    const first = await listed()
    res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    const write = (m: InboxMessage): void => { res.write(JSON.stringify(inboxJson(m)) + '\n') }
    if (!follow) {
      for (const m of first) write(m)
      res.end()
      return STREAMED
    }
    // subscribe first so nothing arrives unseen between the listing and the subscription
    const seen = new Set<string>()
    const pending: InboxMessage[] = []
    let listing = true
    const onMessage = (evt: CustomEvent<InboxMessage>): void => {
      try {
        if (listing) pending.push(evt.detail)
        else write(evt.detail)
      } catch (err) {
        log.error('inbox --follow could not show message %s - %e', evt.detail.id, err)
      }
    }
    this.node.addEventListener('message', onMessage)
    this.streams.add(res)
    res.on('close', () => {
      this.node.removeEventListener('message', onMessage)
      this.streams.delete(res)
    })
    for (const m of await listed()) {
      seen.add(`${m.from}/${m.id}`)
      write(m)
    }
    listing = false
    for (const m of pending) if (!seen.has(`${m.from}/${m.id}`)) write(m)
    return STREAMED
  }
}

const STREAMED = Symbol('streamed')
const TOO_LARGE = Symbol('too large')
/** After a 413, how long the rest of a request's body is read and dropped before the connection closes. */
const TOO_LARGE_LINGER_MS = 5_000

/** The JSON form of an inbox message: text bodies as text, others base64. */
export function inboxJson (m: InboxMessage): Record<string, unknown> {
  const isText = m.contentType == null || m.contentType.startsWith('text/')
  let text: string | undefined
  if (isText) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(m.body)
    } catch {
      text = undefined
    }
  }
  return {
    id: m.id,
    from: m.from,
    sentAt: isoOrNull(m.sentAtMs),
    receivedAt: isoOrNull(m.receivedAtMs),
    contentType: m.contentType ?? null,
    via: m.via,
    bytes: m.body.byteLength,
    ...(text != null ? { text } : { base64: Buffer.from(m.body).toString('base64') })
  }
}

/** A timestamp as ISO 8601, or null when no date can hold it (never a throw). */
function isoOrNull (ms: number): string | null {
  return isValidTimestamp(ms) ? new Date(ms).toISOString() : null
}

function str (body: Record<string, unknown>, key: string): string {
  const v = body[key]
  if (typeof v !== 'string' || v === '') throw new InvalidInputError(`missing '${key}'`)
  return v
}

function errorBody (err: unknown): { name: string, code: string, message: string } {
  if (err instanceof BurrowError) return { name: err.name, code: err.code, message: err.message }
  const e = err as { name?: string, code?: string, message?: string }
  return { name: e.name ?? 'Error', code: typeof e.code === 'string' ? e.code : 'ERR_INTERNAL', message: (e.message ?? String(err)).split('\n')[0] ?? '' }
}

function send (res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** The body as a JSON object; TOO_LARGE as soon as it passes `max` bytes (nothing more is read). */
async function readJson (req: IncomingMessage, max: number): Promise<Record<string, unknown> | typeof TOO_LARGE> {
  const chunks: Buffer[] = []
  let size = 0
  // events, not for-await: leaving a for-await loop early destroys the socket, and the 413 with it
  const over = await new Promise<boolean>((resolve, reject) => {
    const done = (result: boolean | Error): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      if (result instanceof Error) reject(result)
      else resolve(result)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > max) {
        req.pause()
        done(true)
      } else {
        chunks.push(chunk)
      }
    }
    const onEnd = (): void => { done(false) }
    const onError = (err: Error): void => { done(err) }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
  })
  if (over) return TOO_LARGE
  if (size === 0) return {}
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
    if (typeof v !== 'object' || v == null || Array.isArray(v)) throw new Error('not an object')
    return v as Record<string, unknown>
  } catch (err) {
    // JSON.parse's message quotes the body, which may hold newlines: one line, at most 120 characters
    const why = (err as Error).message.replace(/\s+/g, ' ').slice(0, 120)
    throw new InvalidInputError(`request body is not a JSON object: ${why}`)
  }
}

function abortOnClose (req: IncomingMessage, res: ServerResponse): AbortSignal {
  const controller = new AbortController()
  res.on('close', () => { controller.abort() })
  req.on('aborted', () => { controller.abort() })
  return controller.signal
}

/** An outbox entry as JSON: timestamps as ISO 8601 strings, like everything else the API returns. */
export function outboxJson (e: OutboxEntry): Record<string, unknown> {
  return {
    id: e.id,
    to: e.to,
    state: e.state,
    createdAt: new Date(e.createdAtMs).toISOString(),
    expiresAt: new Date(e.expiresAtMs).toISOString(),
    attempts: e.attempts,
    ...(e.lastError != null ? { lastError: e.lastError } : {})
  }
}

/** The thing asked for does not exist (HTTP 404). */
export class NotFoundError extends BurrowError {
  constructor (message: string) {
    super('ERR_NOT_FOUND', message)
  }
}
