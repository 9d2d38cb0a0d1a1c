import { request } from 'node:http'
import { join } from 'node:path'
import { API_PREFIX, SOCKET_FILE } from './constants.js'
import { NoDaemonError, RemoteError } from './errors.js'
import type { IncomingMessage } from 'node:http'

/** Talks to a running daemon over HOME/burrow.sock. */
export class ControlClient {
  readonly home: string
  readonly socketPath: string

  constructor (home: string) {
    this.home = home
    this.socketPath = join(home, SOCKET_FILE)
  }

  async get<T = unknown> (path: string): Promise<T> {
    return this.json<T>('GET', path)
  }

  async post<T = unknown> (path: string, body: unknown): Promise<T> {
    return this.json<T>('POST', path, body)
  }

  /** A streaming endpoint: yields one parsed NDJSON line at a time. */
  async * stream<T = unknown> (method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): AsyncGenerator<T> {
    const res = await this.open(method, path, body, signal)
    if ((res.statusCode ?? 500) >= 400) throw await remoteError(res)
    let buffered = ''
    for await (const chunk of res) {
      buffered += (chunk as Buffer).toString('utf8')
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        if (line.trim() === '') continue
        const value = JSON.parse(line) as { error?: { code: string, message: string } }
        if (value.error != null) throw new RemoteError(value.error.code, value.error.message, 500)
        yield value as T
      }
    }
  }

  private async json<T> (method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.open(method, path, body)
    if ((res.statusCode ?? 500) >= 400) throw await remoteError(res)
    return JSON.parse(await readAll(res)) as T
  }

  private async open (method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({
        socketPath: this.socketPath,
        method,
        path: `${API_PREFIX}${path}`,
        headers: payload != null ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
        signal
      }, resolve)
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new NoDaemonError(this.home))
        else reject(err)
      })
      if (payload != null) req.write(payload)
      req.end()
    })
  }
}

async function readAll (res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of res) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

async function remoteError (res: IncomingMessage): Promise<RemoteError> {
  const text = await readAll(res)
  try {
    const { error } = JSON.parse(text) as { error: { code: string, message: string } }
    return new RemoteError(error.code, error.message, res.statusCode ?? 500)
  } catch {
    return new RemoteError('ERR_DAEMON', `daemon answered ${res.statusCode ?? '?'}: ${text.slice(0, 200)}`, res.statusCode ?? 500)
  }
}
