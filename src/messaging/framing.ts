/**
 * Frames on the wire: an unsigned varint (LEB128, as protobuf and multiformats use) with
 * the length of the protobuf that follows. The reader caps the prefix's length and its
 * value, so a peer cannot make us wait on an endless prefix or buffer an unbounded frame.
 */
import { byteStream } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import type { AbortOptions, Stream } from '@libp2p/interface'
import type { ByteStream } from '@libp2p/utils'

/** 8 varint bytes encode up to 2^56: more than any frame, still a safe integer. */
const MAX_PREFIX_BYTES = 8

/** The length prefix announced a frame over the limit; the body was not read. */
export class FrameTooLargeError extends Error {
  override name = 'FrameTooLargeError'
}

/** The length prefix does not end within MAX_PREFIX_BYTES. */
export class BadPrefixError extends Error {
  override name = 'BadPrefixError'
}

/** The stream ended in the middle of a frame. */
export class TruncatedFrameError extends Error {
  override name = 'TruncatedFrameError'
}

export function encodeFrame (data: Uint8Array): Uint8ArrayList {
  const prefix: number[] = []
  let n = data.byteLength
  while (n >= 0x80) {
    prefix.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  prefix.push(n)
  return new Uint8ArrayList(Uint8Array.from(prefix), data)
}

export class FrameStream {
  private readonly bytes: ByteStream<Stream>
  private readonly maxFrameBytes: number

  constructor (stream: Stream, maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes
    // room for one whole frame plus what a pipelining peer may have sent behind it
    this.bytes = byteStream(stream, { maxBufferSize: Math.max(4 * 1024 * 1024, 2 * maxFrameBytes) })
  }

  /** The next frame, or null when the remote closed its side cleanly between frames. */
  async read (options: AbortOptions = {}): Promise<Uint8Array | null> {
    let length = 0
    for (let i = 0; ; i++) {
      if (i === MAX_PREFIX_BYTES) {
        throw new BadPrefixError(`length prefix longer than ${MAX_PREFIX_BYTES} bytes`)
      }
      let byte: number
      try {
        byte = (await this.bytes.read({ ...options, bytes: 1 })).get(0)
      } catch (err) {
        if (err instanceof Error && err.name === 'UnexpectedEOFError') {
          if (i === 0) {
            return null
          }
          throw new TruncatedFrameError('stream ended inside a length prefix')
        }
        throw err
      }
      length += (byte & 0x7f) * 2 ** (7 * i)
      if ((byte & 0x80) === 0) {
        break
      }
    }
    if (length > this.maxFrameBytes) {
      throw new FrameTooLargeError(`frame of ${length} bytes over the limit of ${this.maxFrameBytes}`)
    }
    if (length === 0) {
      return new Uint8Array(0)
    }
    try {
      return (await this.bytes.read({ ...options, bytes: length })).subarray()
    } catch (err) {
      if (err instanceof Error && err.name === 'UnexpectedEOFError') {
        throw new TruncatedFrameError(`stream ended inside a frame of ${length} bytes`)
      }
      throw err
    }
  }

  async write (data: Uint8Array, options?: AbortOptions): Promise<void> {
    await this.bytes.write(encodeFrame(data), options)
  }
}
