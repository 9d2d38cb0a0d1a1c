import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface InboxRecord {
  id: string
  from: string
  sentAtMs: bigint
  receivedAtMs: bigint
  body: Uint8Array<ArrayBuffer>
  contentType?: string
  relayed: boolean
}

export namespace InboxRecord {
  let _codec: Codec<InboxRecord>

  export const codec = (): Codec<InboxRecord> => {
    if (_codec == null) {
      _codec = message<InboxRecord>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== '')) {
          w.uint32(10)
          w.string(obj.id)
        }

        if ((obj.from != null && obj.from !== '')) {
          w.uint32(18)
          w.string(obj.from)
        }

        if ((obj.sentAtMs != null && obj.sentAtMs !== 0n)) {
          w.uint32(24)
          w.uint64(obj.sentAtMs)
        }

        if ((obj.receivedAtMs != null && obj.receivedAtMs !== 0n)) {
          w.uint32(32)
          w.uint64(obj.receivedAtMs)
        }

        if ((obj.body != null && obj.body.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.body)
        }

        if (obj.contentType != null) {
          w.uint32(50)
          w.string(obj.contentType)
        }

        if ((obj.relayed != null && obj.relayed !== false)) {
          w.uint32(56)
          w.bool(obj.relayed)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: '',
          from: '',
          sentAtMs: 0n,
          receivedAtMs: 0n,
          body: uint8ArrayAlloc(0),
          relayed: false
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
              obj.from = reader.string()
              break
            }
            case 3: {
              obj.sentAtMs = reader.uint64()
              break
            }
            case 4: {
              obj.receivedAtMs = reader.uint64()
              break
            }
            case 5: {
              obj.body = reader.bytes()
              break
            }
            case 6: {
              obj.contentType = reader.string()
              break
            }
            case 7: {
              obj.relayed = reader.bool()
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
                field: `${prefix}.from`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.sentAtMs`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.receivedAtMs`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.body`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.contentType`,
                value: reader.string()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.relayed`,
                value: reader.bool()
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

  export interface InboxRecordIdFieldEvent {
    field: '$.id'
    value: string
  }

  export interface InboxRecordFromFieldEvent {
    field: '$.from'
    value: string
  }

  export interface InboxRecordSentAtMsFieldEvent {
    field: '$.sentAtMs'
    value: bigint
  }

  export interface InboxRecordReceivedAtMsFieldEvent {
    field: '$.receivedAtMs'
    value: bigint
  }

  export interface InboxRecordBodyFieldEvent {
    field: '$.body'
    value: Uint8Array<ArrayBuffer>
  }

  export interface InboxRecordContentTypeFieldEvent {
    field: '$.contentType'
    value: string
  }

  export interface InboxRecordRelayedFieldEvent {
    field: '$.relayed'
    value: boolean
  }

  export function encode (obj: Partial<InboxRecord>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InboxRecord.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InboxRecord>): InboxRecord {
    return decodeMessage(buf, InboxRecord.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InboxRecord>): Generator<InboxRecordIdFieldEvent | InboxRecordFromFieldEvent | InboxRecordSentAtMsFieldEvent | InboxRecordReceivedAtMsFieldEvent | InboxRecordBodyFieldEvent | InboxRecordContentTypeFieldEvent | InboxRecordRelayedFieldEvent> {
    return streamMessage(buf, InboxRecord.codec(), opts)
  }
}
