import { request } from 'node:http'
import { lstat, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { API_PREFIX, SOCKET_FILE } from './constants.js'
import { NoDaemonError, RemoteError, UntrustedSocketError } from './errors.js'
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
  async * stream<T = unknown> (method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal, onOpen?: () => void): AsyncGenerator<T> {
    const res = await this.open(method, path, body, signal)
    if ((res.statusCode ?? 500) >= 400) throw await remoteError(res)
    onOpen?.()
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
    await this.checkSocket()
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

  /**
   * Before anything is sent: the socket must be a socket, owned by us (our effective
   * uid) and closed to group and others, in a home dir that only we own and can write,
   * so nobody else can have put it there or swap it between this check and the connect.
   */
  private async checkSocket (): Promise<void> {
    const uid = process.geteuid?.()
    if (uid == null) return
    let st
    try {
      st = await lstat(this.socketPath)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NoDaemonError(this.home)
      throw err
    }
    if (!st.isSocket()) throw new UntrustedSocketError(this.socketPath, 'is not a socket')
    if (st.uid !== uid) throw new UntrustedSocketError(this.socketPath, `is owned by uid ${st.uid}, not by you (uid ${uid})`)
    if ((st.mode & 0o077) !== 0) throw new UntrustedSocketError(this.socketPath, `is open to group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`)
    const dir = await stat(this.home)
    if (dir.uid !== uid) {
      throw new UntrustedSocketError(this.socketPath, `is in ${this.home}, which uid ${dir.uid} owns, so it may not be your daemon's`, 'use a --home of your own')
    }
    if ((dir.mode & 0o022) !== 0) {
      throw new UntrustedSocketError(this.socketPath, `is in ${this.home}, which group or others can write (mode ${(dir.mode & 0o777).toString(8).padStart(4, '0')}), so anyone could have replaced it`, `run 'chmod 700 ${this.home}', then restart 'burrow daemon'`)
    }
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
