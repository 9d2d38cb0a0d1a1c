import { randomBytes, timingSafeEqual } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { closeHttp, httpUrl, listenHttp } from '../http-endpoint/index.js'
import { MAX_UI_BODY_BYTES, MAX_UI_CONNECTIONS, MAX_UI_STREAMS, UI_ACTION_TIMEOUT_MS, UI_BODY_CHARS, UI_INBOX_SHOWN, UI_KEEPALIVE_MS, UI_REQUEST_TIMEOUT_MS, UI_TOKEN_HEADER } from './constants.js'
import { UiListenError } from './errors.js'
import { renderPage } from './page.js'
import type { BurrowEvent } from '../events/index.js'
import type { InboxMessage, OutboxEntry, SendResult } from '../messaging/index.js'
import type { DialResult, NodeStatus } from '../node/types.js'
import type { NatReport } from '../portmap/report.js'
import type { Server, IncomingMessage, ServerResponse } from 'node:http'

const log = logger('burrow:ui')

/** What the live view needs of a node (BurrowNode has it all). */
export interface UiNode {
  status(): Promise<NodeStatus>
  /** `burrow nat`: port-mapping mode, status and which protocols the gateway answered */
  nat?(): Promise<NatReport>
  inbox(options?: { since?: number, limit?: number }): Promise<InboxMessage[]>
  outbox(): Promise<OutboxEntry[]>
  dial(target: string, options?: { signal?: AbortSignal }): Promise<DialResult>
  send(to: string, body: string, options?: { signal?: AbortSignal }): Promise<SendResult>
  recentEvents(after?: number): BurrowEvent[]
  addEventListener(type: 'event', listener: (evt: CustomEvent<BurrowEvent>) => void): void
  removeEventListener(type: 'event', listener: (evt: CustomEvent<BurrowEvent>) => void): void
}

export interface UiServerInit {
  /** HOST:PORT as config `ui` holds it */
  address: string
  node: UiNode
}

const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/**
 * The live view (config `ui`): one page (`GET /`), the node's status as JSON
 * (`GET /api/status`), its events as Server-Sent Events (`GET /api/events`, replay after
 * `Last-Event-ID` or `?since=SEQ`), and two actions (`POST /api/dial`, `POST /api/send`).
 * The POSTs need this run's token in the `x-burrow-ui-token` header (embedded in the page;
 * a cross-site form cannot set a header and a cross-site fetch with one is refused by CORS)
 * and a same-origin Origin when one is sent. On loopback, a Host that is not loopback is
 * refused (DNS rebinding).
 */
export class UiServer {
  private readonly init: UiServerInit
  private readonly token = randomBytes(24).toString('base64url')
  private server?: Server
  private bound?: { host: string, port: number }
  private readonly streams = new Set<ServerResponse>()

  constructor (init: UiServerInit) {
    this.init = init
  }

  /** `http://HOST:PORT/`, with the port actually bound (config may say :0). */
  get url (): string | undefined {
    return this.bound == null ? undefined : httpUrl(this.bound, '/')
  }

  async start (): Promise<void> {
    if (this.server != null) return
    const { server, bound } = await listenHttp({
      address: this.init.address,
      maxConnections: MAX_UI_CONNECTIONS,
      requestTimeoutMs: UI_REQUEST_TIMEOUT_MS,
      listenError: (address, reason, cause) => new UiListenError(address, reason, { cause }),
      onError: (err) => { log.error('ui server error - %e', err) }
    }, (req, res) => {
      this.handle(req, res).catch(err => {
        log.error('ui request failed - %e', err)
        if (!res.headersSent) sendJson(res, 500, { error: 'ERR_UI_INTERNAL: the live view failed to answer; see the daemon log (DEBUG=burrow:ui)' })
        else res.destroy()
      })
    })
    this.bound = bound
    this.server = server
    this.init.node.addEventListener('event', this.onEvent)
    log('serving %s', this.url)
  }

  async stop (): Promise<void> {
    const server = this.server
    if (server == null) return
    this.server = undefined
    this.bound = undefined
    this.init.node.removeEventListener('event', this.onEvent)
    for (const s of this.streams) s.destroy()
    this.streams.clear()
    await closeHttp(server)
  }

  private readonly onEvent = (evt: CustomEvent<BurrowEvent>): void => {
    const frame = sseFrame(evt.detail)
    for (const s of this.streams) s.write(frame)
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://ui.invalid')
    if (!this.hostAllowed(req.headers.host)) {
      sendText(res, 421, 'ERR_UI_HOST: this page is served for loopback names only (127.0.0.1, localhost, [::1]); open it by one of those\n')
      return
    }
    const route = `${req.method ?? ''} ${url.pathname}`
    switch (route) {
      case 'GET /':
      case 'HEAD /':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': CSP, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' })
        res.end(req.method === 'HEAD' ? undefined : renderPage(this.token))
        return
      case 'GET /api/status':
        sendJson(res, 200, await this.snapshot())
        return
      case 'GET /api/events':
        this.openStream(req, res, url)
        return
      case 'POST /api/dial':
      case 'POST /api/send':
        await this.action(req, res, url.pathname)
        return
      default:
        if (['/', '/api/status', '/api/events', '/api/dial', '/api/send'].includes(url.pathname)) {
          sendText(res, 405, 'ERR_UI_METHOD: GET /, /api/status, /api/events; POST /api/dial, /api/send\n')
        } else {
          sendText(res, 404, 'ERR_UI_NOT_FOUND: the live view is at /\n')
        }
    }
  }

  /** Status plus the newest inbox messages (bodies as text, cut) and the outbox. */
  private async snapshot (): Promise<unknown> {
    const node = this.init.node
    const [status, inbox, outbox, nat] = await Promise.all([node.status(), node.inbox(), node.outbox(), node.nat?.().catch(() => undefined)])
    const decoder = new TextDecoder('utf-8', { fatal: false })
    return {
      status,
      portMapping: nat != null ? { ...nat.portMapping, protocols: nat.protocols.map(p => ({ protocol: p.protocol, answered: p.answered })), doubleNat: nat.doubleNat } : null,
      inbox: inbox.slice(-UI_INBOX_SHOWN).reverse().map(m => ({
        id: m.id,
        from: m.from,
        receivedAt: new Date(m.receivedAtMs).toISOString(),
        via: m.via,
        bytes: m.body.byteLength,
        text: decoder.decode(m.body.subarray(0, UI_BODY_CHARS * 4)).slice(0, UI_BODY_CHARS)
      })),
      inboxTotal: inbox.length,
      outbox: outbox.map(e => ({ id: e.id, to: e.to, state: e.state, attempts: e.attempts, lastError: e.lastError ?? null, expiresAt: new Date(e.expiresAtMs).toISOString() }))
    }
  }

  private openStream (req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (this.streams.size >= MAX_UI_STREAMS) {
      sendText(res, 503, `ERR_UI_STREAMS: ${MAX_UI_STREAMS} live views are open already; close a tab and reload\n`)
      return
    }
    const from = req.headers['last-event-id'] ?? url.searchParams.get('since') ?? '0'
    const since = /^\d{1,15}$/.test(String(from)) ? Number(from) : 0
    req.socket.setTimeout(0)
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
    res.write(': burrow live view\n\n')
    for (const e of this.init.node.recentEvents(since)) res.write(sseFrame(e))
    this.streams.add(res)
    const keepalive = setInterval(() => { res.write(': keepalive\n\n') }, UI_KEEPALIVE_MS)
    keepalive.unref()
    res.on('close', () => { clearInterval(keepalive); this.streams.delete(res) })
  }

  private async action (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (!this.tokenOk(req.headers[UI_TOKEN_HEADER]) || !this.originOk(req.headers.origin, req.headers.host)) {
      sendJson(res, 403, { error: `ERR_UI_FORBIDDEN: a POST needs this run's ${UI_TOKEN_HEADER} header and a same-origin request; reload the page (the token changes every run)` })
      req.resume()
      return
    }
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      sendJson(res, 415, { error: 'ERR_UI_BODY: send application/json' })
      req.resume()
      return
    }
    let input: Record<string, unknown>
    try {
      input = await readJson(req)
    } catch (err) {
      sendJson(res, 400, { error: (err as Error).message })
      return
    }
    const signal = AbortSignal.timeout(UI_ACTION_TIMEOUT_MS)
    try {
      if (path === '/api/dial') {
        const target = input.target
        if (typeof target !== 'string' || target.trim() === '' || target.length > 2048) {
          sendJson(res, 400, { error: 'ERR_UI_BODY: give {"target": PEERID or MULTIADDR}' })
          return
        }
        sendJson(res, 200, await this.init.node.dial(target.trim(), { signal }))
      } else {
        const { to, body } = input
        if (typeof to !== 'string' || to.trim() === '' || to.length > 2048 || typeof body !== 'string') {
          sendJson(res, 400, { error: 'ERR_UI_BODY: give {"to": PEERID, "body": TEXT}' })
          return
        }
        sendJson(res, 200, await this.init.node.send(to.trim(), body, { signal }))
      }
    } catch (err) {
      const e = err as Error & { code?: string }
      sendJson(res, 502, { error: `${e.code ?? e.name}: ${e.message}` })
    }
  }

  private tokenOk (header: string | string[] | undefined): boolean {
    if (typeof header !== 'string') return false
    const a = Buffer.from(header)
    const b = Buffer.from(this.token)
    return a.length === b.length && timingSafeEqual(a, b)
  }

  /** No Origin (curl) is fine with the token; a browser's Origin must be this server's. */
  private originOk (origin: string | undefined, host: string | undefined): boolean {
    if (origin == null) return true
    try {
      return new URL(origin).host === host
    } catch {
      return false
    }
  }

  /** Bound to loopback: only loopback names in Host, so a rebinding DNS name cannot read the page. */
  private hostAllowed (host: string | undefined): boolean {
    const bound = this.bound?.host ?? ''
    const loopback = bound === '::1' || bound.startsWith('127.')
    if (!loopback) return true
    if (host == null) return false
    const name = host.replace(/:\d+$/, '').toLowerCase()
    return name === 'localhost' || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)
  }
}

function sseFrame (e: BurrowEvent): string {
  return `id: ${e.seq}\nevent: burrow\ndata: ${JSON.stringify(e)}\n\n`
}

function sendJson (res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
  res.end(JSON.stringify(body))
}

function sendText (res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' }).end(body)
}

async function readJson (req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength
    if (size > MAX_UI_BODY_BYTES) {
      req.destroy()
      throw new Error(`ERR_UI_BODY: the request is over ${MAX_UI_BODY_BYTES} bytes; send a shorter message`)
    }
    chunks.push(chunk as Buffer)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new Error('ERR_UI_BODY: the body is not JSON')
  }
  if (parsed == null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('ERR_UI_BODY: the body is not a JSON object')
  return parsed as Record<string, unknown>
}
