import { createConnection } from 'node:net'
import { BurrowError } from '../errors/index.js'
import type { Socket } from 'node:net'

/**
 * A minimal HTTP/1.1 client for the control socket, over node:net: one request per
 * connection (Connection: close). The CLI loads it instead of node:http, which costs
 * ~11 MB of RSS and a few ms at start (issue 14). It reads what the daemon's node:http
 * server sends: a status line, headers, and a body with Content-Length, chunked, or
 * ending at close. Everything it buffers is bounded.
 */

/** Most bytes of status line + headers read before giving up (node:http's own default is 16 KiB). */
export const MAX_HEADER_BYTES = 64 * 1024

/** Most bytes of a chunk-size line (hex digits and extensions) in a chunked body. */
const MAX_CHUNK_LINE_BYTES = 1024

/** Body chunks held for a slow reader before the socket is paused. */
const PAUSE_AT_BYTES = 1024 * 1024

/** The daemon's answer is not HTTP we can read, or the connection ended before it was whole. */
export class ControlProtocolError extends BurrowError {
  constructor (socketPath: string, problem: string) {
    super('ERR_CONTROL_PROTOCOL', `the daemon on ${socketPath} ${problem}; retry, and if it repeats restart 'burrow daemon'`)
  }
}

export interface Http1Request {
  socketPath: string
  method: string
  /** the request target, e.g. /v1/status */
  path: string
  /** sent as application/json with its Content-Length */
  body?: string
  signal?: AbortSignal
}

export interface Http1Response {
  status: number
  /** lower-cased names; a repeated header's values joined with ', ' */
  headers: Record<string, string>
  /** the decoded body; breaking out of it (or return()) closes the connection */
  body: AsyncGenerator<Buffer, void, undefined>
  /** closes the connection, the body unread (return() on a body not yet started does not) */
  close: () => void
}

/** The error node:http gives for an aborted request, so callers see the same thing. */
function abortError (signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason }) as NodeJS.ErrnoException
  err.name = 'AbortError'
  err.code = 'ABORT_ERR'
  return err
}

/**
 * Sends one request and resolves once the status line and headers are in. Rejects with
 * the socket's own error (ENOENT, ECONNREFUSED, ...) when the connect fails, so the
 * caller can tell "no daemon" apart.
 */
export async function request (req: Http1Request): Promise<Http1Response> {
  if (!/^\/[\x21-\x7e]*$/.test(req.path)) throw new BurrowError('ERR_INVALID_INPUT', `control request path '${req.path.slice(0, 100)}' is not a plain URL path; encode it`)
  if (!/^[A-Z]+$/.test(req.method)) throw new BurrowError('ERR_INVALID_INPUT', `control request method '${req.method.slice(0, 20)}' is not an HTTP method`)
  if (req.signal?.aborted === true) throw abortError(req.signal)
  const conn = new Connection(req)
  return conn.head
}

type BodyMode = { kind: 'length', left: number } | { kind: 'chunked' } | { kind: 'close' }

class Connection {
  readonly head: Promise<Http1Response>
  private readonly socket: Socket
  private readonly socketPath: string
  private resolveHead!: (res: Http1Response) => void
  private rejectHead!: (err: Error) => void
  private headDone = false
  /** bytes read but not yet parsed */
  private pending: Buffer = Buffer.alloc(0)
  private mode: BodyMode = { kind: 'close' }
  /** chunked: 'size' reading a size line, 'data' inside a chunk, 'crlf' after one, 'trailer' after the last */
  private chunkState: 'size' | 'data' | 'crlf' | 'trailer' = 'size'
  private chunkLeft = 0
  private readonly queue: Buffer[] = []
  private queuedBytes = 0
  private complete = false
  private failure: Error | undefined
  private wake: (() => void) | undefined
  private readonly onAbort: () => void
  private readonly signal: AbortSignal | undefined

  constructor (req: Http1Request) {
    this.socketPath = req.socketPath
    this.head = new Promise((resolve, reject) => {
      this.resolveHead = resolve
      this.rejectHead = reject
    })
    const headers = ['Host: localhost', 'Connection: close']
    if (req.body != null) headers.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(req.body)}`)
    const head = `${req.method} ${req.path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`
    this.socket = createConnection({ path: req.socketPath, allowHalfOpen: true })
    this.socket.on('connect', () => {
      this.socket.write(req.body != null ? head + req.body : head)
      // nothing more to send: the daemon still answers on a half-closed socket
    })
    this.socket.on('data', (chunk: Buffer) => { this.onData(chunk) })
    this.socket.on('end', () => { this.onEnd() })
    this.socket.on('error', (err) => { this.onError(err) })
    this.socket.on('close', () => { this.onEnd() })
    const signal = req.signal
    this.onAbort = () => { if (signal != null) this.fail(abortError(signal)) }
    signal?.addEventListener('abort', this.onAbort, { once: true })
    this.signal = signal
  }

  private onData (chunk: Buffer): void {
    if (this.complete || this.failure != null) return
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    try {
      if (!this.headDone) this.parseHead()
      if (this.headDone) this.parseBody()
    } catch (err) {
      this.fail(err as Error)
      return
    }
    if (this.queuedBytes > PAUSE_AT_BYTES) this.socket.pause()
    this.notify()
  }

  private parseHead (): void {
    const end = this.pending.indexOf('\r\n\r\n')
    if (end < 0) {
      if (this.pending.length > MAX_HEADER_BYTES) throw this.protocol(`sent more than ${MAX_HEADER_BYTES} bytes of headers`)
      return
    }
    if (end + 4 > MAX_HEADER_BYTES) throw this.protocol(`sent more than ${MAX_HEADER_BYTES} bytes of headers`)
    const lines = this.pending.subarray(0, end).toString('latin1').split('\r\n')
    this.pending = this.pending.subarray(end + 4)
    const statusLine = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '')
    if (statusLine == null) throw this.protocol(`answered with '${(lines[0] ?? '').slice(0, 60)}', not an HTTP/1.1 status line`)
    const status = Number(statusLine[1])
    const headers: Record<string, string> = {}
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':')
      if (colon <= 0) throw this.protocol(`sent a malformed header line '${line.slice(0, 60)}'`)
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim()
      headers[name] = headers[name] == null ? value : `${headers[name]}, ${value}`
    }
    const te = headers['transfer-encoding']
    const cl = headers['content-length']
    if (te != null) {
      if (te.toLowerCase() !== 'chunked') throw this.protocol(`sent a body in transfer encoding '${te.slice(0, 40)}', which this client does not read`)
      this.mode = { kind: 'chunked' }
    } else if (cl != null) {
      // a repeated Content-Length must agree with itself ("5, 5")
      const values = new Set(cl.split(',').map((v) => v.trim()))
      const only = values.size === 1 ? [...values][0] ?? '' : ''
      if (!/^\d{1,15}$/.test(only)) throw this.protocol(`sent Content-Length '${cl.slice(0, 40)}', which is not one number`)
      this.mode = { kind: 'length', left: Number(only) }
    } else if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      this.mode = { kind: 'length', left: 0 }
    } else {
      this.mode = { kind: 'close' }
    }
    this.headDone = true
    this.resolveHead({ status, headers, body: this.body(), close: () => { this.close() } })
  }

  private parseBody (): void {
    while (!this.complete && this.pending.length > 0) {
      const mode = this.mode
      if (mode.kind === 'close') {
        this.push(this.pending)
        this.pending = Buffer.alloc(0)
      } else if (mode.kind === 'length') {
        const take = Math.min(mode.left, this.pending.length)
        if (take > 0) this.push(this.pending.subarray(0, take))
        this.pending = this.pending.subarray(take)
        mode.left -= take
        if (mode.left === 0) this.finish()
        // bytes after the body on a Connection: close answer are ignored
      } else if (!this.parseChunked()) {
        return
      }
    }
    if (this.mode.kind === 'length' && this.mode.left === 0) this.finish()
  }

  /** One step of a chunked body; false when more bytes are needed. */
  private parseChunked (): boolean {
    if (this.chunkState === 'data') {
      const take = Math.min(this.chunkLeft, this.pending.length)
      this.push(this.pending.subarray(0, take))
      this.pending = this.pending.subarray(take)
      this.chunkLeft -= take
      if (this.chunkLeft === 0) this.chunkState = 'crlf'
      return true
    }
    const nl = this.pending.indexOf('\r\n')
    if (nl < 0) {
      if (this.pending.length > MAX_CHUNK_LINE_BYTES) throw this.protocol('sent a chunk-size line longer than 1024 bytes')
      return false
    }
    const line = this.pending.subarray(0, nl).toString('latin1')
    this.pending = this.pending.subarray(nl + 2)
    if (this.chunkState === 'crlf') {
      if (line !== '') throw this.protocol('sent a chunk not followed by CRLF')
      this.chunkState = 'size'
    } else if (this.chunkState === 'size') {
      const size = /^([0-9a-fA-F]{1,12})(?:[ \t]*;.*)?$/.exec(line)
      if (size == null) throw this.protocol(`sent a malformed chunk size '${line.slice(0, 40)}'`)
      this.chunkLeft = parseInt(size[1] ?? '', 16)
      this.chunkState = this.chunkLeft === 0 ? 'trailer' : 'data'
    } else if (line === '') {
      this.finish() // the empty line after the last chunk (and any trailers)
    }
    return true
  }

  private push (chunk: Buffer): void {
    if (chunk.length === 0) return
    this.queue.push(chunk)
    this.queuedBytes += chunk.length
  }

  private finish (): void {
    if (this.complete) return
    this.complete = true
    this.signal?.removeEventListener('abort', this.onAbort)
    this.socket.destroy()
    this.notify()
  }

  private onEnd (): void {
    if (this.complete || this.failure != null) return
    if (!this.headDone) {
      this.fail(this.protocol('closed the connection before answering'))
    } else if (this.mode.kind === 'close') {
      this.finish()
    } else {
      const missing = this.mode.kind === 'length' ? `${this.mode.left} bytes short of its Content-Length` : 'before the last chunk'
      this.fail(this.protocol(`closed the connection in the middle of its answer (${missing})`))
    }
  }

  private onError (err: NodeJS.ErrnoException): void {
    if (this.complete || this.failure != null) return
    // The daemon answers 413 and closes without reading the rest of a large body: our
    // write then fails (EPIPE, ECONNRESET) though its answer may be whole. Keep reading.
    if (this.headDone && (err.code === 'EPIPE' || err.code === 'ECONNRESET')) {
      this.onEnd()
      return
    }
    if (!this.headDone && (err.code === 'EPIPE' || err.code === 'ECONNRESET')) {
      this.fail(this.protocol(`closed the connection before answering (${err.code})`))
      return
    }
    this.fail(err)
  }

  private fail (err: Error): void {
    if (this.complete || this.failure != null) return
    this.failure = err
    this.signal?.removeEventListener('abort', this.onAbort)
    this.socket.destroy()
    if (!this.headDone) this.rejectHead(err)
    this.notify()
  }

  private notify (): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  private protocol (problem: string): ControlProtocolError {
    return new ControlProtocolError(this.socketPath, problem)
  }

  private async * body (): AsyncGenerator<Buffer, void, undefined> {
    try {
      while (true) {
        const chunk = this.queue.shift()
        if (chunk != null) {
          this.queuedBytes -= chunk.length
          if (this.queuedBytes <= PAUSE_AT_BYTES && this.socket.isPaused()) this.socket.resume()
          yield chunk
          continue
        }
        if (this.failure != null) throw this.failure
        if (this.complete) return
        await new Promise<void>((resolve) => { this.wake = resolve })
      }
    } finally {
      this.close()
    }
  }

  private close (): void {
    if (this.complete || this.failure != null) return
    this.complete = true
    this.queue.length = 0
    this.signal?.removeEventListener('abort', this.onAbort)
    this.socket.destroy()
  }
}
