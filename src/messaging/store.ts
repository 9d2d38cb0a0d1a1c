/**
 * The inbox and outbox as they live in the shared datastore.
 *
 * Inbox:
 *   /burrow/inbox/msg/<arrival seq, 16 digits>   InboxRecord (protobuf), in arrival order
 *   /burrow/inbox/ids/<from>/<base64url id>      the msg key above; the dedupe index
 *   /burrow/inbox/meta/next-seq                  the next arrival sequence number
 * One batch writes all three, so a message and its index land together or not at all.
 *
 * Outbox:
 *   /burrow/outbox/meta/<to>/<base64url id>      OutboxEntry (JSON, small: listed on every sweep)
 *   /burrow/outbox/frame/<to>/<base64url id>     the encoded Message, resent as is on every retry
 */
import { Key } from 'interface-datastore'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import {
  INBOX_IDS_PREFIX, INBOX_MESSAGES_PREFIX, INBOX_NEXT_SEQ_KEY, OUTBOX_FRAME_PREFIX, OUTBOX_META_PREFIX
} from './constants.js'
import { InboxRecord } from './pb/store.js'
import type { InboxMessage, OutboxEntry } from './index.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/** Ids come from peers: encode them so no id can add or swallow a key segment. */
function idSegment (id: string): string {
  return uint8ArrayToString(uint8ArrayFromString(id), 'base64url')
}

function seqSegment (seq: number): string {
  return seq.toString().padStart(16, '0')
}

function byKey (a: { key: Key }, b: { key: Key }): -1 | 0 | 1 {
  const x = a.key.toString()
  const y = b.key.toString()
  return x < y ? -1 : x > y ? 1 : 0
}

function toInboxMessage (record: InboxRecord): InboxMessage {
  const message: InboxMessage = {
    id: record.id,
    from: record.from,
    sentAtMs: Number(record.sentAtMs),
    receivedAtMs: Number(record.receivedAtMs),
    body: record.body,
    via: record.relayed ? 'relayed' : 'direct'
  }
  if (record.contentType != null) {
    message.contentType = record.contentType
  }
  return message
}

export interface IncomingMessage {
  id: string
  from: string
  sentAtMs: number
  body: Uint8Array<ArrayBuffer>
  contentType?: string
  via: 'direct' | 'relayed'
}

export class InboxStore {
  private readonly datastore: Datastore
  private nextSeq = -1
  /** Writes run one at a time, so the dedupe check and the write cannot interleave. */
  private tail: Promise<unknown> = Promise.resolve()

  constructor (datastore: Datastore) {
    this.datastore = datastore
  }

  async load (options?: AbortOptions): Promise<void> {
    const key = new Key(INBOX_NEXT_SEQ_KEY)
    if (await this.datastore.has(key, options)) {
      const value = uint8ArrayToString(await this.datastore.get(key, options))
      this.nextSeq = Number.parseInt(value, 10)
    } else {
      this.nextSeq = 0
    }
    if (!Number.isSafeInteger(this.nextSeq) || this.nextSeq < 0) {
      throw new Error(`corrupt inbox sequence number ${String(this.nextSeq)}`)
    }
  }

  /**
   * Stores the message unless this sender already delivered this id. Resolves once the
   * write is committed, with the stored message, or undefined for a duplicate.
   */
  async add (incoming: IncomingMessage, receivedAtMs: number): Promise<InboxMessage | undefined> {
    const run = this.tail.then(async () => this.addNow(incoming, receivedAtMs))
    this.tail = run.catch(() => {})
    return run
  }

  /** Resolves when every write queued so far has finished. */
  async flush (): Promise<void> {
    await this.tail
  }

  private async addNow (incoming: IncomingMessage, receivedAtMs: number): Promise<InboxMessage | undefined> {
    if (this.nextSeq < 0) {
      await this.load()
    }
    const indexKey = new Key(`${INBOX_IDS_PREFIX}${incoming.from}/${idSegment(incoming.id)}`)
    if (await this.datastore.has(indexKey)) {
      return undefined
    }
    const seq = this.nextSeq
    const messageKey = `${INBOX_MESSAGES_PREFIX}${seqSegment(seq)}`
    const record: InboxRecord = {
      id: incoming.id,
      from: incoming.from,
      sentAtMs: BigInt(Math.max(0, Math.trunc(incoming.sentAtMs))),
      receivedAtMs: BigInt(receivedAtMs),
      body: incoming.body,
      relayed: incoming.via === 'relayed'
    }
    if (incoming.contentType != null) {
      record.contentType = incoming.contentType
    }
    const batch = this.datastore.batch()
    batch.put(new Key(messageKey), InboxRecord.encode(record))
    batch.put(indexKey, uint8ArrayFromString(messageKey))
    batch.put(new Key(INBOX_NEXT_SEQ_KEY), uint8ArrayFromString(String(seq + 1)))
    await batch.commit()
    this.nextSeq = seq + 1
    return toInboxMessage(record)
  }

  async list (options: { since?: number, limit?: number } = {}): Promise<InboxMessage[]> {
    const since = options.since
    const out: InboxMessage[] = []
    const query = this.datastore.query({ prefix: INBOX_MESSAGES_PREFIX, orders: [byKey] })
    for await (const { value } of query) {
      const message = toInboxMessage(InboxRecord.decode(value))
      if (since != null && message.receivedAtMs < since) {
        continue
      }
      out.push(message)
      if (options.limit != null && out.length >= options.limit) {
        break
      }
    }
    return out
  }
}

function outboxSegment (to: string, id: string): string {
  return `${to}/${idSegment(id)}`
}

export class OutboxStore {
  private readonly datastore: Datastore

  constructor (datastore: Datastore) {
    this.datastore = datastore
  }

  /** Writes the entry and the frame to resend together. */
  async put (entry: OutboxEntry, frame: Uint8Array, options?: AbortOptions): Promise<void> {
    const segment = outboxSegment(entry.to, entry.id)
    const batch = this.datastore.batch()
    batch.put(new Key(OUTBOX_META_PREFIX + segment), uint8ArrayFromString(JSON.stringify(entry)))
    batch.put(new Key(OUTBOX_FRAME_PREFIX + segment), frame)
    await batch.commit(options)
  }

  async get (to: string, id: string, options?: AbortOptions): Promise<OutboxEntry | undefined> {
    const key = new Key(OUTBOX_META_PREFIX + outboxSegment(to, id))
    if (!await this.datastore.has(key, options)) {
      return undefined
    }
    return JSON.parse(uint8ArrayToString(await this.datastore.get(key, options))) as OutboxEntry
  }

  async getFrame (to: string, id: string, options?: AbortOptions): Promise<Uint8Array | undefined> {
    const key = new Key(OUTBOX_FRAME_PREFIX + outboxSegment(to, id))
    if (!await this.datastore.has(key, options)) {
      return undefined
    }
    return this.datastore.get(key, options)
  }

  /** Rewrites the entry's state, unless it has been removed meanwhile (delivered elsewhere). */
  async update (entry: OutboxEntry, options?: AbortOptions): Promise<void> {
    const key = new Key(OUTBOX_META_PREFIX + outboxSegment(entry.to, entry.id))
    if (!await this.datastore.has(key, options)) {
      return
    }
    await this.datastore.put(key, uint8ArrayFromString(JSON.stringify(entry)), options)
  }

  async remove (to: string, id: string, options?: AbortOptions): Promise<void> {
    const segment = outboxSegment(to, id)
    const batch = this.datastore.batch()
    batch.delete(new Key(OUTBOX_META_PREFIX + segment))
    batch.delete(new Key(OUTBOX_FRAME_PREFIX + segment))
    await batch.commit(options)
  }

  /** Every entry, or only those to one peer, oldest first. */
  async list (to?: string, options?: AbortOptions): Promise<OutboxEntry[]> {
    const prefix = to == null ? OUTBOX_META_PREFIX : `${OUTBOX_META_PREFIX}${to}/`
    const entries: OutboxEntry[] = []
    for await (const { value } of this.datastore.query({ prefix }, options)) {
      entries.push(JSON.parse(uint8ArrayToString(value)) as OutboxEntry)
    }
    return entries.sort((a, b) => a.createdAtMs - b.createdAtMs)
  }
}
