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

/** The read buffer of a stream never needs to be smaller than yamux's initial window. */
const MIN_BUFFER_BYTES = 256 * 1024

/** The length prefix announced a frame over the limit; the body was not read. */
export class FrameTooLargeError extends Error {
  override name = 'FrameTooLargeError'
}

/** The length prefix does not end within MAX_PREFIX_BYTES. */
export class BadPrefixError extends Error {
  override name = 'BadPrefixError'
}

/** The frame's length would take the in-flight budget over its cap; the body was not read. */
export class InFlightBudgetError extends Error {
  override name = 'InFlightBudgetError'
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

/**
 * One budget for the bytes of frames being received, over all streams and connections:
 * a frame's announced length is reserved when its prefix has been read and released once
 * the frame has been handled (or its stream ended). Past the cap, new frames are refused,
 * so peers holding half-sent frames cannot pin more memory than the cap (issue 10, item 5).
 */
export class InFlightBudget {
  readonly maxBytes: number
  private held = 0
  private refusedFrames = 0

  constructor (maxBytes: number) {
    this.maxBytes = maxBytes
  }

  tryReserve (bytes: number): boolean {
    if (this.held + bytes > this.maxBytes) {
      this.refusedFrames++
      return false
    }
    this.held += bytes
    return true
  }

  release (bytes: number): void {
    this.held = Math.max(0, this.held - bytes)
  }

  /** Bytes reserved now, the cap, and how many frames were refused since start. */
  usage (): { bytes: number, maxBytes: number, refused: number } {
    return { bytes: this.held, maxBytes: this.maxBytes, refused: this.refusedFrames }
  }
}

export class FrameStream {
  private readonly bytes: ByteStream<Stream>
  private readonly maxFrameBytes: number
  private readonly budget?: InFlightBudget
  /** Bytes this stream holds in the budget for the frame being read or handled. */
  private held = 0

  constructor (stream: Stream, maxFrameBytes: number, budget?: InFlightBudget) {
    this.maxFrameBytes = maxFrameBytes
    this.budget = budget
    // room for one whole frame (a sender writes the next one only after the ack of this
    // one), and at least 256 KiB (yamux's initial window) so the early ack of an oversized
    // frame is written before the bytes behind it overflow the buffer
    this.bytes = byteStream(stream, { maxBufferSize: Math.max(MIN_BUFFER_BYTES, maxFrameBytes + MAX_PREFIX_BYTES) })
  }

  /** Gives back what the last frame held in the budget; read() and the stream's end call it too. */
  release (): void {
    if (this.held > 0) {
      this.budget?.release(this.held)
      this.held = 0
    }
  }

  /**
   * The next frame, or null when the remote closed its side cleanly between frames. With
   * a budget, the frame's bytes stay reserved until release() or the next read().
   */
  async read (options: AbortOptions = {}): Promise<Uint8Array | null> {
    this.release()
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
    if (this.budget != null) {
      if (!this.budget.tryReserve(length)) {
        throw new InFlightBudgetError(`frame of ${length} bytes would take unfinished frames over ${this.budget.maxBytes} bytes`)
      }
      this.held = length
    }
    try {
      return (await this.bytes.read({ ...options, bytes: length })).subarray()
    } catch (err) {
      this.release()
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
