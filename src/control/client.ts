import { lstat, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { StringDecoder } from 'node:string_decoder'
import { API_PREFIX, SOCKET_FILE } from './constants.js'
import { NoDaemonError, RemoteError, UntrustedSocketError } from './errors.js'
import { ControlProtocolError, request } from './http1.js'
import type { Http1Response } from './http1.js'

/**
 * Most bytes of one JSON answer (or one NDJSON line of a stream) the client holds. The
 * daemon's answers are far smaller (its requests are capped at control.maxRequestBytes,
 * 2 MiB by default; an inbox listing is bounded by the store's quota); this only stops a
 * runaway or hostile answer from filling memory.
 */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024

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
    if (res.status >= 400) throw await this.remoteError(res)
    onOpen?.()
    // a decoder, so a character split across two chunks is not mangled
    const decoder = new StringDecoder('utf8')
    let buffered = ''
    for await (const chunk of res.body) {
      buffered += decoder.write(chunk)
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        if (line.trim() === '') continue
        const value = this.parse(line) as { error?: { code: string, message: string } }
        if (value.error != null) throw new RemoteError(value.error.code, value.error.message, 500)
        yield value as T
      }
      if (buffered.length > MAX_ANSWER_BYTES) throw new ControlProtocolError(this.socketPath, `sent a stream line longer than ${MAX_ANSWER_BYTES} bytes`)
    }
  }

  private async json<T> (method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.open(method, path, body)
    if (res.status >= 400) throw await this.remoteError(res)
    return this.parse(await this.readAll(res)) as T
  }

  private async open (method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Http1Response> {
    await this.checkSocket()
    const payload = body === undefined ? undefined : JSON.stringify(body)
    try {
      return await request({ socketPath: this.socketPath, method, path: `${API_PREFIX}${path}`, body: payload, signal })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ECONNREFUSED') throw new NoDaemonError(this.home)
      throw err
    }
  }

  /** The whole body, at most MAX_ANSWER_BYTES. */
  private async readAll (res: Http1Response): Promise<string> {
    const declared = Number(res.headers['content-length'] ?? 0)
    if (declared > MAX_ANSWER_BYTES) {
      res.close()
      throw new ControlProtocolError(this.socketPath, `announced an answer of ${declared} bytes, more than the ${MAX_ANSWER_BYTES} this client reads`)
    }
    const chunks: Buffer[] = []
    let size = 0
    for await (const c of res.body) {
      size += c.length
      if (size > MAX_ANSWER_BYTES) throw new ControlProtocolError(this.socketPath, `sent an answer of more than ${MAX_ANSWER_BYTES} bytes, more than this client reads`)
      chunks.push(c)
    }
    return Buffer.concat(chunks).toString('utf8')
  }

  private parse (text: string): unknown {
    try {
      return JSON.parse(text)
    } catch (err) {
      const why = (err as Error).message.replace(/\s+/g, ' ').slice(0, 120)
      throw new ControlProtocolError(this.socketPath, `answered with something that is not JSON (${why})`)
    }
  }

  private async remoteError (res: Http1Response): Promise<RemoteError> {
    const text = await this.readAll(res)
    try {
      const { error } = JSON.parse(text) as { error: { code: string, message: string } }
      return new RemoteError(error.code, error.message, res.status)
    } catch {
      return new RemoteError('ERR_DAEMON', `daemon answered ${res.status}: ${text.slice(0, 200)}`, res.status)
    }
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
