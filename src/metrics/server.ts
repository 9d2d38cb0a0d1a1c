import { createServer } from 'node:http'
import { logger } from '@libp2p/logger'
import { MAX_METRICS_CONNECTIONS, METRICS_CONTENT_TYPE, METRICS_PATH, METRICS_REQUEST_TIMEOUT_MS } from './constants.js'
import { MetricsListenError } from './errors.js'
import type { Server, IncomingMessage, ServerResponse } from 'node:http'
import type { Registry } from 'prom-client'

const log = logger('burrow:metrics:server')

export interface MetricsServerInit {
  /** HOST:PORT as config `metrics` holds it (`[::1]:9090` for IPv6) */
  address: string
  registry: Registry
}

/**
 * Serves one registry as Prometheus text on `GET /metrics`. No body is read from a
 * request, sockets are capped and every request has a deadline: the port may be reachable
 * by others (`metricsPublic`), and a scrape only ever reads.
 */
export class MetricsServer {
  private readonly init: MetricsServerInit
  private server?: Server
  private bound?: { host: string, port: number }

  constructor (init: MetricsServerInit) {
    this.init = init
  }

  /** `http://HOST:PORT/metrics`, with the port actually bound (config may say :0). */
  get url (): string | undefined {
    if (this.bound == null) return undefined
    const host = this.bound.host.includes(':') ? `[${this.bound.host}]` : this.bound.host
    return `http://${host}:${this.bound.port}${METRICS_PATH}`
  }

  async start (): Promise<void> {
    if (this.server != null) return
    const { host, port } = splitHostPort(this.init.address)
    const server = createServer({ requestTimeout: METRICS_REQUEST_TIMEOUT_MS, headersTimeout: METRICS_REQUEST_TIMEOUT_MS }, (req, res) => { void this.handle(req, res) })
    server.maxConnections = MAX_METRICS_CONNECTIONS
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => { reject(new MetricsListenError(this.init.address, err.code ?? err.message, { cause: err })) })
      server.listen({ host, port }, () => { resolve() })
    })
    server.on('error', (err) => { log.error('metrics server error - %e', err) })
    const addr = server.address()
    this.bound = typeof addr === 'object' && addr != null ? { host: addr.address, port: addr.port } : { host, port }
    this.server = server
    log('serving %s', this.url)
  }

  async stop (): Promise<void> {
    const server = this.server
    if (server == null) return
    this.server = undefined
    this.bound = undefined
    server.closeAllConnections()
    await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0]
    if (path !== METRICS_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: metrics are at ${METRICS_PATH}\n`)
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('only GET and HEAD\n')
      return
    }
    try {
      const body = await this.init.registry.metrics()
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE })
      res.end(req.method === 'HEAD' ? undefined : body)
    } catch (err) {
      log.error('could not collect metrics - %e', err)
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('could not collect metrics; see the daemon log (DEBUG=burrow:metrics*)\n')
    }
  }
}

/** `127.0.0.1:9090`, `localhost:9090`, `[::1]:9090` → host and port. */
export function splitHostPort (address: string): { host: string, port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address)
  if (m == null) throw new MetricsListenError(address, 'not HOST:PORT')
  return { host: m[1] ?? m[2] ?? '', port: Number(m[3]) }
}
