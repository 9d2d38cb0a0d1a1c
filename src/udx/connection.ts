/**
 * A UDX stream as a libp2p MultiaddrConnection, for the upgrader (Noise, then yamux).
 * Modelled on @libp2p/tcp's socket-to-conn.js: the stream's data, end, close and drain
 * drive the abstract connection; its sends write to the stream.
 */
import { AbstractMultiaddrConnection } from '@libp2p/utils'
import type { AbstractMultiaddrConnectionInit } from '@libp2p/utils'
import type { AbortOptions } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { UDXStream } from 'udx-native'
import { UdxHandshakeError } from './errors.js'

/** How long a graceful close waits for the peer to acknowledge our end before the stream is destroyed. */
const CLOSE_GRACE_MS = 5_000

export interface UdxConnInit extends AbstractMultiaddrConnectionInit {
  stream: UDXStream
  /** called once, when the stream is closed (frees what the endpoint holds for it) */
  onClosed?: () => void
  /**
   * Lazy multistream-select for the initiator: these bytes (the answer the peer will send to our
   * proposal) are handed to the reader at once, so the upgrader's select returns without waiting
   * a round trip and Noise's first message follows our proposal in the same flight; the peer's
   * real answer is then checked byte for byte against them and stripped, and the connection
   * is aborted (ERR_UDX_HANDSHAKE) when it differs.
   */
  lazyAnswer?: Uint8Array
}

export class UdxMultiaddrConnection extends AbstractMultiaddrConnection {
  readonly stream: UDXStream

  constructor (init: UdxConnInit) {
    super(init)
    const stream = this.stream = init.stream
    const expected = init.lazyAnswer
    let matched = 0
    if (expected != null && expected.byteLength > 0) this.onData(expected.slice())
    stream.on('data', (buf: Uint8Array) => {
      if (expected != null && matched < expected.byteLength) {
        const n = Math.min(buf.byteLength, expected.byteLength - matched)
        for (let i = 0; i < n; i++) {
          if (buf[i] !== expected[matched + i]) {
            this.abort(new UdxHandshakeError('the peer answered our multistream-select proposal with something else (it does not speak our encryption protocol): not a burrow UDX peer, the connection is closed'))
            return
          }
        }
        matched += n
        if (n === buf.byteLength) return
        buf = buf.subarray(n)
      }
      this.onData(buf)
    })
    stream.on('error', (err: Error) => {
      this.log('udx error %s', err.message)
      this.abort(err)
    })
    // the peer ended its side: end ours too (no half-open connections, as TCP in libp2p)
    stream.on('end', () => {
      stream.end()
      this.onTransportClosed()
    })
    stream.once('close', () => {
      init.onClosed?.()
      this.onTransportClosed()
    })
    stream.on('drain', () => { this.safeDispatchEvent('drain') })
  }

  sendData (data: Uint8ArrayList): { sentBytes: number, canSendMore: boolean } {
    let sentBytes = 0
    let canSendMore = true
    for (const buf of data) {
      sentBytes += buf.byteLength
      canSendMore = this.stream.write(buf)
      if (!canSendMore) break
    }
    return { sentBytes, canSendMore }
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    const stream = this.stream
    if (stream.destroyed) return
    await new Promise<void>(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        options?.signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = (): void => { stream.destroy(); done() }
      const timer = setTimeout(onAbort, CLOSE_GRACE_MS)
      options?.signal?.addEventListener('abort', onAbort, { once: true })
      stream.once('close', done)
      stream.end()
    })
  }

  sendReset (): void {
    this.stream.destroy()
  }

  sendPause (): void {
    this.stream.pause()
  }

  sendResume (): void {
    this.stream.resume()
  }
}
