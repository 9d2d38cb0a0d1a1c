import { decodeMessage, encodeMessage, enumeration, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Message {
  id: string
  sentAtMs: bigint
  body: Uint8Array<ArrayBuffer>
  contentType?: string
}

export namespace Message {
  let _codec: Codec<Message>

  export const codec = (): Codec<Message> => {
    if (_codec == null) {
      _codec = message<Message>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== '')) {
          w.uint32(10)
          w.string(obj.id)
        }

        if ((obj.sentAtMs != null && obj.sentAtMs !== 0n)) {
          w.uint32(16)
          w.uint64(obj.sentAtMs)
        }

        if ((obj.body != null && obj.body.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.body)
        }

        if (obj.contentType != null) {
          w.uint32(34)
          w.string(obj.contentType)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: '',
          sentAtMs: 0n,
          body: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.string()
              break
            }
            case 2: {
              obj.sentAtMs = reader.uint64()
              break
            }
            case 3: {
              obj.body = reader.bytes()
              break
            }
            case 4: {
              obj.contentType = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.sentAtMs`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.body`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.contentType`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface MessageIdFieldEvent {
    field: '$.id'
    value: string
  }

  export interface MessageSentAtMsFieldEvent {
    field: '$.sentAtMs'
    value: bigint
  }

  export interface MessageBodyFieldEvent {
    field: '$.body'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MessageContentTypeFieldEvent {
    field: '$.contentType'
    value: string
  }

  export function encode (obj: Partial<Message>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Message.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Message>): Message {
    return decodeMessage(buf, Message.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Message>): Generator<MessageIdFieldEvent | MessageSentAtMsFieldEvent | MessageBodyFieldEvent | MessageContentTypeFieldEvent> {
    return streamMessage(buf, Message.codec(), opts)
  }
}

export interface Ack {
  id: string
  status: Ack.Status
  reason?: string
}

export namespace Ack {
  export enum Status {
    STATUS_UNSPECIFIED = 'STATUS_UNSPECIFIED',
    OK = 'OK',
    TOO_LARGE = 'TOO_LARGE',
    REJECTED = 'REJECTED',
    MALFORMED = 'MALFORMED',
    RATE_LIMITED = 'RATE_LIMITED',
    INTERNAL = 'INTERNAL',
    QUOTA_EXCEEDED = 'QUOTA_EXCEEDED'
  }

  enum __StatusValues {
    STATUS_UNSPECIFIED = 0,
    OK = 1,
    TOO_LARGE = 2,
    REJECTED = 3,
    MALFORMED = 4,
    RATE_LIMITED = 5,
    INTERNAL = 6,
    QUOTA_EXCEEDED = 7
  }

  export namespace Status {
    export const codec = (): Codec<Status> => {
      return enumeration<Status>(__StatusValues)
    }
  }

  let _codec: Codec<Ack>

  export const codec = (): Codec<Ack> => {
    if (_codec == null) {
      _codec = message<Ack>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== '')) {
          w.uint32(10)
          w.string(obj.id)
        }

        if (obj.status != null && __StatusValues[obj.status] !== 0) {
          w.uint32(16)
          Ack.Status.codec().encode(obj.status, w)
        }

        if (obj.reason != null) {
          w.uint32(26)
          w.string(obj.reason)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: '',
          status: Status.STATUS_UNSPECIFIED
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.string()
              break
            }
            case 2: {
              obj.status = Ack.Status.codec().decode(reader)
              break
            }
            case 3: {
              obj.reason = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.status`,
                value: Ack.Status.codec().decode(reader)
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.reason`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface AckIdFieldEvent {
    field: '$.id'
    value: string
  }

  export interface AckStatusFieldEvent {
    field: '$.status'
    value: Ack.Status
  }

  export interface AckReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export function encode (obj: Partial<Ack>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Ack.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ack>): Ack {
    return decodeMessage(buf, Ack.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ack>): Generator<AckIdFieldEvent | AckStatusFieldEvent | AckReasonFieldEvent> {
    return streamMessage(buf, Ack.codec(), opts)
  }
}
