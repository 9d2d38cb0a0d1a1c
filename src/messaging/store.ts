/**
 * The inbox and outbox as they live in the shared datastore.
 *
 * Inbox:
 *   /burrow/inbox/msg/<arrival seq, 16 digits>   InboxRecord (protobuf), in arrival order
 *   /burrow/inbox/ids/<from>/<base64url id>      "<msg key> <receivedAtMs>"; the dedupe index
 *   /burrow/inbox/meta/next-seq                  the next arrival sequence number
 * One batch writes all three, so a message and its index land together or not at all;
 * on LevelDB it is synced to disk before add() resolves (and so before the ack).
 * Dedupe entries older than the outbox TTL are pruned: no sender retries longer.
 *
 * Outbox:
 *   /burrow/outbox/meta/<to>/<base64url id>      OutboxEntry (JSON, small: listed on every sweep)
 *   /burrow/outbox/frame/<to>/<base64url id>     the encoded Message, resent as is on every retry
 */
import { logger } from '@libp2p/logger'
import { Key } from 'interface-datastore'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import {
  INBOX_IDS_PREFIX, INBOX_MESSAGES_PREFIX, INBOX_NEXT_SEQ_KEY, OUTBOX_FRAME_PREFIX, OUTBOX_META_PREFIX
} from './constants.js'
import { InboxRecord } from './pb/store.js'
import { isValidTimestamp } from './validate.js'
import type { InboxMessage, InboxQuota, InboxUsage, OutboxEntry } from './types.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

const log = logger('burrow:messaging:store')

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

/** A stored record as a message, or undefined when it cannot be shown (a bad timestamp). */
function toInboxMessage (record: InboxRecord): InboxMessage | undefined {
  const sentAtMs = Number(record.sentAtMs)
  const receivedAtMs = Number(record.receivedAtMs)
  if (!isValidTimestamp(sentAtMs) || !isValidTimestamp(receivedAtMs)) {
    return undefined
  }
  const message: InboxMessage = {
    id: record.id,
    from: record.from,
    sentAtMs,
    receivedAtMs,
    body: record.body,
    via: record.relayed ? 'relayed' : 'direct'
  }
  if (record.contentType != null) {
    message.contentType = record.contentType
  }
  return message
}

type BatchOp = { type: 'put', key: Key, value: Uint8Array } | { type: 'del', key: Key }

/** The LevelDB handle under a datastore-level LevelDatastore (its public `db`), when there is one. */
interface LevelHandle {
  batch: (ops: Array<{ type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }>, options: { sync: boolean }) => Promise<void>
}

function levelOf (datastore: Datastore): LevelHandle | undefined {
  const db = (datastore as { db?: Partial<LevelHandle> }).db
  return typeof db?.batch === 'function' ? db as LevelHandle : undefined
}

/**
 * Commits `ops` atomically; with `sync` on LevelDB, fsynced before it resolves
 * (classic-level's `sync: true`). datastore-level's own batch() passes no options to
 * LevelDB, so the write would only reach the OS cache: safe against a crash of the
 * daemon, not against a power cut.
 */
export async function commitBatch (datastore: Datastore, ops: BatchOp[], sync: boolean): Promise<void> {
  const level = levelOf(datastore)
  if (level != null) {
    await level.batch(ops.map(op => op.type === 'put'
      ? { type: 'put', key: op.key.toString(), value: op.value }
      : { type: 'del', key: op.key.toString() }), { sync })
    return
  }
  const batch = datastore.batch()
  for (const op of ops) {
    if (op.type === 'put') {
      batch.put(op.key, op.value)
    } else {
      batch.delete(op.key)
    }
  }
  await batch.commit()
}

export interface IncomingMessage {
  id: string
  from: string
  sentAtMs: number
  body: Uint8Array<ArrayBuffer>
  contentType?: string
  via: 'direct' | 'relayed'
}

/** Storing the message would take the inbox over a quota; nothing was written. */
export class InboxQuotaError extends Error {
  override name = 'InboxQuotaError'
  /** Whose quota: this sender's, or the inbox's over all senders. */
  readonly scope: 'sender' | 'total'

  constructor (scope: 'sender' | 'total', message: string) {
    super(message)
    this.scope = scope
  }
}

export type AddResult =
  | { kind: 'stored', message: InboxMessage }
  | { kind: 'duplicate' }

interface Use { bytes: number, count: number }

interface PendingAdd {
  incoming: IncomingMessage
  receivedAtMs: number
  resolve: (result: AddResult) => void
  reject: (err: unknown) => void
}

/** Messages in one group commit at most: 64 × 1 MiB bounds the batch LevelDB holds at once. */
const MAX_GROUP = 64

export class InboxStore {
  private readonly datastore: Datastore
  private readonly quota: InboxQuota
  private nextSeq = -1
  /** Writes run one at a time, so the dedupe check, the quota check and the write cannot interleave. */
  private tail: Promise<unknown> = Promise.resolve()
  private readonly total: Use = { bytes: 0, count: 0 }
  private readonly bySender = new Map<string, Use>()
  private readonly skippedKeys = new Set<string>()
  /** Messages waiting for the next group commit, in arrival order. */
  private readonly queue: PendingAdd[] = []
  private draining = false

  constructor (datastore: Datastore, quota: InboxQuota) {
    this.datastore = datastore
    this.quota = quota
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
    // what is stored counts against the quota: one pass over the records at start
    this.total.bytes = 0
    this.total.count = 0
    this.bySender.clear()
    for await (const { key: k, value } of this.datastore.query({ prefix: INBOX_MESSAGES_PREFIX }, options)) {
      let from = ''
      try {
        from = InboxRecord.decode(value).from
      } catch (err) {
        this.skip(k.toString(), err)
      }
      this.count(from, value.byteLength)
    }
  }

  /** Use of the inbox against the quota. */
  usage (): InboxUsage {
    return { ...this.quota, bytes: this.total.bytes, count: this.total.count, senders: this.bySender.size, skipped: this.skippedKeys.size }
  }

  /**
   * Stores the message unless this sender already delivered this id. Resolves once the
   * write is committed (synced to disk on LevelDB). Throws InboxQuotaError, writing
   * nothing, when the message would take the sender or the inbox over its quota.
   *
   * Messages that arrive while a write is on its way are committed together in one synced
   * batch (group commit), so a sync costs one disk flush per group, not per message.
   */
  async add (incoming: IncomingMessage, receivedAtMs: number): Promise<AddResult> {
    return new Promise<AddResult>((resolve, reject) => {
      this.queue.push({ incoming, receivedAtMs, resolve, reject })
      if (!this.draining) {
        this.draining = true
        const run = this.tail.then(async () => this.drain())
        this.tail = run.catch(() => {})
      }
    })
  }

  /** Resolves when every write queued so far has finished. */
  async flush (): Promise<void> {
    while (this.draining) {
      await this.tail
    }
    await this.tail
  }

  private count (from: string, bytes: number): void {
    this.total.bytes += bytes
    this.total.count++
    const use = this.bySender.get(from) ?? { bytes: 0, count: 0 }
    use.bytes += bytes
    use.count++
    this.bySender.set(from, use)
  }

  private skip (key: string, why: unknown): void {
    if (!this.skippedKeys.has(key)) {
      this.skippedKeys.add(key)
      log.error('skipping inbox record %s: %s', key, why instanceof Error ? why.message : String(why))
    }
  }

  private async drain (): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0, MAX_GROUP)
        try {
          await this.writeGroup(group)
        } catch (err) {
          for (const p of group) p.reject(err)
        }
      }
    } finally {
      this.draining = false
    }
  }

  /** Checks each message of the group in order (dedupe, quotas), then commits those to store in one synced batch. */
  private async writeGroup (group: PendingAdd[]): Promise<void> {
    if (this.nextSeq < 0) {
      await this.load()
    }
    const ops: BatchOp[] = []
    const outcomes: Array<{ p: PendingAdd, result?: AddResult, error?: Error, from?: string, bytes?: number }> = []
    const claimed = new Set<string>()
    const total = { ...this.total }
    const senders = new Map<string, Use>()
    let seq = this.nextSeq
    for (const p of group) {
      const { incoming, receivedAtMs } = p
      const indexKey = new Key(`${INBOX_IDS_PREFIX}${incoming.from}/${idSegment(incoming.id)}`)
      const indexText = indexKey.toString()
      if (claimed.has(indexText) || await this.datastore.has(indexKey)) {
        outcomes.push({ p, result: { kind: 'duplicate' } })
        continue
      }
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
      const message = toInboxMessage(record)
      if (message == null) {
        outcomes.push({ p, error: new Error(`message ${incoming.id} from ${incoming.from} has a timestamp no date can hold`) })
        continue
      }
      const value = InboxRecord.encode(record)
      const sender = senders.get(incoming.from) ?? { ...(this.bySender.get(incoming.from) ?? { bytes: 0, count: 0 }) }
      if (sender.count + 1 > this.quota.maxCountPerSender || sender.bytes + value.byteLength > this.quota.maxBytesPerSender) {
        outcomes.push({ p, error: new InboxQuotaError('sender', `sender ${incoming.from} is at its inbox quota (${sender.count} messages, ${sender.bytes} bytes; limits ${this.quota.maxCountPerSender}, ${this.quota.maxBytesPerSender})`) })
        continue
      }
      if (total.count + 1 > this.quota.maxCount || total.bytes + value.byteLength > this.quota.maxBytes) {
        outcomes.push({ p, error: new InboxQuotaError('total', `the inbox is full (${total.count} messages, ${total.bytes} bytes; limits ${this.quota.maxCount}, ${this.quota.maxBytes})`) })
        continue
      }
      sender.count++
      sender.bytes += value.byteLength
      senders.set(incoming.from, sender)
      total.count++
      total.bytes += value.byteLength
      claimed.add(indexText)
      ops.push({ type: 'put', key: new Key(messageKey), value })
      ops.push({ type: 'put', key: indexKey, value: uint8ArrayFromString(`${messageKey} ${receivedAtMs}`) })
      seq++
      outcomes.push({ p, result: { kind: 'stored', message }, from: incoming.from, bytes: value.byteLength })
    }
    if (ops.length > 0) {
      ops.push({ type: 'put', key: new Key(INBOX_NEXT_SEQ_KEY), value: uint8ArrayFromString(String(seq)) })
      // a failure rejects the whole group (caught in drain): nothing of it was written
      await commitBatch(this.datastore, ops, true)
      this.nextSeq = seq
    }
    for (const o of outcomes) {
      if (o.error != null) {
        o.p.reject(o.error)
      } else if (o.result != null) {
        if (o.from != null && o.bytes != null) {
          this.count(o.from, o.bytes)
        }
        o.p.resolve(o.result)
      }
    }
  }

  /**
   * Deletes stored messages, all of them or those received before `beforeMs`, and gives
   * their room back to the quotas. The dedupe ids stay (until the outbox TTL), so a late
   * retry of a deleted message is acked without being stored again. Returns how many.
   */
  async clear (options: { beforeMs?: number } = {}): Promise<number> {
    const run = this.tail.then(async () => {
      const gone: Array<{ key: Key, from: string, bytes: number }> = []
      for await (const { key, value } of this.datastore.query({ prefix: INBOX_MESSAGES_PREFIX })) {
        let from = ''
        let receivedAtMs = 0
        try {
          const record = InboxRecord.decode(value)
          from = record.from
          receivedAtMs = Number(record.receivedAtMs)
        } catch {}
        if (options.beforeMs == null || receivedAtMs < options.beforeMs) {
          gone.push({ key, from, bytes: value.byteLength })
        }
      }
      if (gone.length > 0) {
        await commitBatch(this.datastore, gone.map(g => ({ type: 'del', key: g.key })), true)
      }
      for (const g of gone) {
        this.skippedKeys.delete(g.key.toString())
        this.total.bytes -= g.bytes
        this.total.count--
        const use = this.bySender.get(g.from)
        if (use != null) {
          use.bytes -= g.bytes
          use.count--
          if (use.count <= 0) {
            this.bySender.delete(g.from)
          }
        }
      }
      return gone.length
    })
    this.tail = run.catch(() => {})
    return run
  }

  /**
   * Drops dedupe entries for messages received before `cutoffMs`: their senders have
   * stopped retrying them (outbox TTL). Returns how many were dropped.
   */
  async pruneDedupe (cutoffMs: number): Promise<number> {
    const run = this.tail.then(async () => {
      const stale: Key[] = []
      for await (const { key, value } of this.datastore.query({ prefix: INBOX_IDS_PREFIX })) {
        const [messageKey, at] = uint8ArrayToString(value).split(' ')
        let receivedAtMs = Number(at)
        if (at == null || !Number.isSafeInteger(receivedAtMs)) {
          // written before the receive time was kept here: take it from the record
          receivedAtMs = -1
          try {
            receivedAtMs = Number(InboxRecord.decode(await this.datastore.get(new Key(messageKey ?? ''))).receivedAtMs)
          } catch {}
        }
        if (receivedAtMs < cutoffMs) {
          stale.push(key)
        }
      }
      if (stale.length > 0) {
        await commitBatch(this.datastore, stale.map(key => ({ type: 'del', key })), false)
      }
      return stale.length
    })
    this.tail = run.catch(() => {})
    return run
  }

  /** Stored messages in arrival order; a record that cannot be read or shown is skipped with a warning. */
  async list (options: { since?: number, limit?: number } = {}): Promise<InboxMessage[]> {
    const since = options.since
    const out: InboxMessage[] = []
    const query = this.datastore.query({ prefix: INBOX_MESSAGES_PREFIX, orders: [byKey] })
    for await (const { key, value } of query) {
      let message: InboxMessage | undefined
      try {
        message = toInboxMessage(InboxRecord.decode(value))
      } catch (err) {
        this.skip(key.toString(), err)
        continue
      }
      if (message == null) {
        this.skip(key.toString(), 'a timestamp no date can hold (written before sentAtMs was checked)')
        continue
      }
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
