import { closeHttp, httpUrl, listenHttp } from '../http-endpoint/index.js'
import { logger } from '@libp2p/logger'
import { MAX_METRICS_CONNECTIONS, METRICS_CONTENT_TYPE, METRICS_PATH, METRICS_REQUEST_TIMEOUT_MS } from './constants.js'
import { MetricsListenError } from './errors.js'
import type { Server, IncomingMessage, ServerResponse } from 'node:http'
import type { Registry } from 'prom-client'
import type { Logger } from '@libp2p/interface'

export interface MetricsServerInit {
  /** HOST:PORT as config `metrics` holds it (`[::1]:9090` for IPv6) */
  address: string
  registry: Registry
  /** the owning service's component logger; default `burrow:metrics:server` from @libp2p/logger */
  log?: Logger
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
  private readonly log: Logger

  constructor (init: MetricsServerInit) {
    this.init = init
    this.log = init.log ?? logger('burrow:metrics:server')
  }

  /** `http://HOST:PORT/metrics`, with the port actually bound (config may say :0). */
  get url (): string | undefined {
    return this.bound == null ? undefined : httpUrl(this.bound, METRICS_PATH)
  }

  async start (): Promise<void> {
    if (this.server != null) return
    const { server, bound } = await listenHttp({
      address: this.init.address,
      maxConnections: MAX_METRICS_CONNECTIONS,
      requestTimeoutMs: METRICS_REQUEST_TIMEOUT_MS,
      listenError: (address, reason, cause) => new MetricsListenError(address, reason, { cause }),
      onError: (err) => { this.log.error('metrics server error - %e', err) }
    }, (req, res) => { void this.handle(req, res) })
    this.bound = bound
    this.server = server
    this.log('serving %s', this.url)
  }

  async stop (): Promise<void> {
    const server = this.server
    if (server == null) return
    this.server = undefined
    this.bound = undefined
    await closeHttp(server)
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
      this.log.error('could not collect metrics - %e', err)
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('could not collect metrics; see the daemon log (DEBUG=burrow:metrics*)\n')
    }
  }
}
