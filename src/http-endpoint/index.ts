/**
 * A small HTTP endpoint on HOST:PORT, as the metrics server and the live view run one:
 * bounded connections and request time, the port actually bound (config may say :0), and a
 * stop that drops every connection. Each caller brings its own handler and listen error.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'

export interface BoundAddress { host: string, port: number }

export interface HttpEndpointInit {
  /** HOST:PORT as configured */
  address: string
  maxConnections: number
  /** request and header timeout */
  requestTimeoutMs: number
  /** the one-line error for an address that cannot be listened on (reason: `EADDRINUSE`, `not HOST:PORT`, …) */
  listenError: (address: string, reason: string, cause: unknown) => Error
  /** later server errors */
  onError: (err: Error) => void
}

/** `127.0.0.1:9090`, `localhost:9090`, `[::1]:9090` → host and port; undefined when it is not one. */
export function splitHostPort (address: string): BoundAddress | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address)
  if (m == null) return undefined
  return { host: m[1] ?? m[2] ?? '', port: Number(m[3]) }
}

/** Listens; resolves with the server and the address it bound. */
export async function listenHttp (init: HttpEndpointInit, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server, bound: BoundAddress }> {
  const want = splitHostPort(init.address)
  if (want == null) throw init.listenError(init.address, 'not HOST:PORT', undefined)
  const server = createServer({ requestTimeout: init.requestTimeoutMs, headersTimeout: init.requestTimeoutMs }, handler)
  server.maxConnections = init.maxConnections
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => { reject(init.listenError(init.address, err.code ?? err.message, err)) })
    server.listen({ host: want.host, port: want.port }, () => { resolve() })
  })
  server.on('error', init.onError)
  const addr = server.address()
  return { server, bound: typeof addr === 'object' && addr != null ? { host: addr.address, port: addr.port } : want }
}

/** `http://HOST:PORT/path`, IPv6 hosts in brackets. */
export function httpUrl (bound: BoundAddress, path: string): string {
  const host = bound.host.includes(':') ? `[${bound.host}]` : bound.host
  return `http://${host}:${bound.port}${path}`
}

/** Closes the server and every connection it holds. */
export async function closeHttp (server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>(resolve => { server.close(() => { resolve() }) })
}
