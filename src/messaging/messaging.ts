/**
 * The application message protocol, /burrow/message/1.0.0.
 *
 * On a stream the sender writes Message frames and the receiver answers each with an Ack,
 * in order, until the sender closes its write side. Every frame is a varint length prefix
 * and a protobuf (pb/message.proto).
 *
 * @see ../../docs/messaging.md
 */
import { randomUUID } from 'node:crypto'
import { setMaxListeners } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  CLOSE_TIMEOUT_MS, DEDUPE_PRUNE_INTERVAL_MS, DEFAULT_ACK_TIMEOUT_MS, DEFAULT_IN_FLIGHT_MAX_BYTES,
  DEFAULT_INBOX_MAX_BYTES, DEFAULT_INBOX_MAX_BYTES_PER_SENDER, DEFAULT_INBOX_MAX_COUNT,
  DEFAULT_INBOX_MAX_COUNT_PER_SENDER, DEFAULT_MAX_INBOUND_PER_SECOND, DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_OUTBOX_TTL_MS, DEFAULT_READ_TIMEOUT_MS, DEFAULT_RETRY_INTERVAL_MS, FRAME_OVERHEAD_BYTES, IDLE_SESSION_MS,
  INBOUND_BURST_SECONDS, MAX_CONCURRENT_SENDS_PER_PEER,
  MAX_INBOUND_STREAMS, MAX_OUTBOUND_STREAMS, PROTOCOL, RETRY_PEER_CONCURRENCY
} from './constants.js'
import {
  AckTimeoutError, InboxFullError, InvalidMessageError, MessageExpiredError, MessageRateLimitedError,
  MessageRejectedError, MessageTooLargeError, OutboxBusyError, PeerUnreachableError, UnexpectedAckError
} from './errors.js'
import { BadPrefixError, FrameStream, FrameTooLargeError, InFlightBudget, InFlightBudgetError, TruncatedFrameError } from './framing.js'
import { GuardedEventEmitter } from './guarded-events.js'
import { Ack, Message } from './pb/message.js'
import { PeerRateLimiter } from './rate-limiter.js'
import { InboxQuotaError, InboxStore, OutboxStore } from './store.js'
import { linkSignals } from './linked-signal.js'
import { checkContentType, checkId, checkSentAtMs } from './validate.js'
import type {
  InboxMessage, MessagingComponents, MessagingEvents, MessagingInit, MessagingUsage, OutboxEntry, SendOptions, SendResult
} from './types.js'
import type { Connection, PeerId, Stream, Logger } from '@libp2p/interface'
import { isRelayed } from '../connections/index.js'


/** An ack is an id, a status and a short reason: never more than this. */
const MAX_ACK_BYTES = 4096
/** Reasons we write into acks are cut to this length. */
const MAX_REASON_LENGTH = 200

type Via = 'direct' | 'relayed'

/** What one delivery attempt came to. */
type Outcome =
  | { kind: 'ok', rttMs: number, via: Via }
  | { kind: 'rejected', status: string, reason?: string }
  | { kind: 'rate-limited' }
  | { kind: 'quota', reason?: string }
  | { kind: 'not-delivered', reason: string, cause?: unknown }

/** An open connection that is not relayed, else any open one. */
function pickConnection (connections: Connection[]): Connection | undefined {
  const open = connections.filter(c => c.status === 'open')
  return open.find(c => !isRelayed(c)) ?? open[0]
}

function errorText (err: unknown): string {
  if (err instanceof Error) {
    return `${err.name}: ${err.message.split('\n')[0] ?? ''}`
  }
  return String(err)
}

/** At most `limit` holders per key; the rest wait in order. */
class KeyedSemaphore {
  private readonly limit: number
  private readonly slots = new Map<string, { active: number, waiters: Array<() => void> }>()

  constructor (limit: number) {
    this.limit = limit
  }

  async acquire (key: string, signal: AbortSignal): Promise<() => void> {
    let slot = this.slots.get(key)
    if (slot == null) {
      slot = { active: 0, waiters: [] }
      this.slots.set(key, slot)
    }
    const s = slot
    if (s.active >= this.limit) {
      signal.throwIfAborted()
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const i = s.waiters.indexOf(wake)
          if (i >= 0) {
            s.waiters.splice(i, 1)
          }
          reject(signal.reason)
        }
        const wake = (): void => {
          signal.removeEventListener('abort', onAbort)
          resolve()
        }
        s.waiters.push(wake)
        signal.addEventListener('abort', onAbort, { once: true })
      })
    } else {
      s.active++
    }
    let released = false
    return () => {
      if (released) {
        return
      }
      released = true
      const next = s.waiters.shift()
      if (next != null) {
        next() // the slot passes straight to the next waiter
      } else if (--s.active === 0) {
        this.slots.delete(key)
      }
    }
  }
}

/** One outbound stream that carries several messages, one after the other. */
class OutboundSession {
  readonly stream: Stream
  readonly connection: Connection
  readonly via: Via
  private readonly frames: FrameStream

  constructor (stream: Stream, connection: Connection) {
    this.stream = stream
    this.connection = connection
    this.via = isRelayed(connection) ? 'relayed' : 'direct'
    this.frames = new FrameStream(stream, MAX_ACK_BYTES)
  }

  /** Whether another message can go on this stream: both ends open, the connection too. */
  usable (): boolean {
    return this.connection.status === 'open' && this.stream.status === 'open' &&
      this.stream.writeStatus === 'writable' && this.stream.readStatus !== 'closed' && this.stream.readStatus !== 'closing' &&
      this.stream.remoteWriteStatus === 'writable' && this.stream.remoteReadStatus !== 'closed' && this.stream.remoteReadStatus !== 'closing'
  }

  /**
   * Steps 1–2 of the exchange: write the Message frame, read its Ack. The ack read starts
   * before the write so an early error ack (e.g. TOO_LARGE on the length prefix) is seen
   * even while the body is still being written.
   */
  async exchange (id: string, frame: Uint8Array, signal: AbortSignal): Promise<{ ack: Ack, rttMs: number }> {
    const start = Date.now()
    const ackRead = this.frames.read({ signal })
    ackRead.catch(() => {}) // observed below; keeps a failed write from leaving it unhandled
    await Promise.race([this.frames.write(frame, { signal }), ackRead])
    const ackFrame = await ackRead
    if (ackFrame == null) {
      throw new UnexpectedAckError('stream closed without an ack')
    }
    const ack = Ack.decode(ackFrame)
    if (ack.id !== id && !(ack.id === '' && ack.status !== Ack.Status.OK)) {
      throw new UnexpectedAckError(`ack for ${JSON.stringify(ack.id)} while waiting for ${JSON.stringify(id)}`)
    }
    return { ack, rttMs: Date.now() - start }
  }

  async close (): Promise<void> {
    try {
      await this.stream.close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) })
    } catch (err) {
      this.stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  abort (err: unknown): void {
    this.stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}

export class Messaging extends GuardedEventEmitter<MessagingEvents> {
  private readonly components: MessagingComponents
  private readonly maxMessageBytes: number
  private readonly maxFrameBytes: number
  private readonly outboxTtlMs: number
  private readonly retryIntervalMs: number
  private readonly ackTimeoutMs: number
  private readonly readTimeoutMs: number
  private readonly rateLimiter: PeerRateLimiter
  private readonly inboxStore: InboxStore
  private readonly outboxStore: OutboxStore
  private readonly inFlightBudget: InFlightBudget
  private lastPruneAt = 0
  private readonly sendSlots = new KeyedSemaphore(MAX_CONCURRENT_SENDS_PER_PEER)
  /** `to/id` of entries being attempted right now, so a sweep never sends them twice at once. */
  private readonly inFlight = new Set<string>()
  /** Peers whose pending entries a retry is working through. */
  private readonly retryingPeers = new Set<string>()
  private readonly inboundStreams = new Set<Stream>()
  /** One idle outbound stream per peer, kept for the next message */
  private readonly idleSessions = new Map<string, { session: OutboundSession, timer: ReturnType<typeof setTimeout> }>()
  private readonly tasks = new Set<Promise<unknown>>()
  /** since start: delivery attempts begun (first tries and retries), and messages written to the outbox (metrics) */
  readonly totals = { sent: 0, queued: 0 }
  private shutdown = new AbortController()
  private started = false
  private starting?: Promise<void>
  private sweeping = false
  private timer?: ReturnType<typeof setTimeout>

  private readonly log: Logger

  constructor (components: MessagingComponents, init: MessagingInit = {}) {
    super()
    this.log = components.logger.forComponent('burrow:messaging')
    this.components = components
    this.maxMessageBytes = init.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    this.maxFrameBytes = this.maxMessageBytes + FRAME_OVERHEAD_BYTES
    this.outboxTtlMs = init.outboxTtlMs ?? DEFAULT_OUTBOX_TTL_MS
    this.retryIntervalMs = init.retryIntervalMs ?? DEFAULT_RETRY_INTERVAL_MS
    this.ackTimeoutMs = init.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS
    this.readTimeoutMs = init.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS
    const rate = init.maxInboundPerSecond ?? DEFAULT_MAX_INBOUND_PER_SECOND
    this.rateLimiter = new PeerRateLimiter(rate, Math.ceil(rate * INBOUND_BURST_SECONDS))
    const quota = {
      maxBytes: init.inboxMaxBytes ?? DEFAULT_INBOX_MAX_BYTES,
      maxCount: init.inboxMaxCount ?? DEFAULT_INBOX_MAX_COUNT,
      maxBytesPerSender: init.inboxMaxBytesPerSender ?? DEFAULT_INBOX_MAX_BYTES_PER_SENDER,
      maxCountPerSender: init.inboxMaxCountPerSender ?? DEFAULT_INBOX_MAX_COUNT_PER_SENDER
    }
    const inFlightMaxBytes = init.inFlightMaxBytes ?? DEFAULT_IN_FLIGHT_MAX_BYTES
    this.inFlightBudget = new InFlightBudget(inFlightMaxBytes)
    this.inboxStore = new InboxStore(components.datastore, quota)
    this.outboxStore = new OutboxStore(components.datastore)
    this.handleStream = this.handleStream.bind(this)
    this.onPeerConnect = this.onPeerConnect.bind(this)
    for (const [name, value] of Object.entries({
      maxMessageBytes: this.maxMessageBytes,
      outboxTtlMs: this.outboxTtlMs,
      retryIntervalMs: this.retryIntervalMs,
      ackTimeoutMs: this.ackTimeoutMs,
      readTimeoutMs: this.readTimeoutMs,
      maxInboundPerSecond: rate,
      inFlightMaxBytes,
      ...Object.fromEntries(Object.entries(quota).map(([k, v]) => [`inbox${k.slice(0, 1).toUpperCase()}${k.slice(1)}`, v]))
    })) {
      if (!Number.isFinite(value) || value <= 0) {
        throw new InvalidMessageError(`messaging option ${name} must be a positive number, got ${String(value)}`)
      }
    }
  }

  readonly [Symbol.toStringTag] = 'burrow:messaging'

  isStarted (): boolean {
    return this.started
  }

  /** Registers the protocol handler and starts the outbox retry loop. Safe to call twice. */
  async start (): Promise<void> {
    if (this.started) {
      return
    }
    this.starting ??= this.doStart().finally(() => { this.starting = undefined })
    await this.starting
  }

  private async doStart (): Promise<void> {
    this.shutdown = new AbortController()
    setMaxListeners(Infinity, this.shutdown.signal)
    await this.inboxStore.load()
    await this.components.registrar.handle(PROTOCOL, this.handleStream, {
      maxInboundStreams: MAX_INBOUND_STREAMS,
      maxOutboundStreams: MAX_OUTBOUND_STREAMS,
      runOnLimitedConnection: true
    })
    this.components.events.addEventListener('peer:connect', this.onPeerConnect)
    this.started = true
    // entries left pending by a previous run are retried right away
    this.track(this.sweep())
    this.schedule()
    this.log('started, %s, max message %d bytes', PROTOCOL, this.maxMessageBytes)
  }

  /** Undoes everything start() did: handler, timer, listener, open streams, running retries. */
  async stop (): Promise<void> {
    if (this.starting != null) {
      await this.starting.catch(() => {})
    }
    if (!this.started) {
      return
    }
    this.started = false
    clearTimeout(this.timer)
    this.timer = undefined
    this.components.events.removeEventListener('peer:connect', this.onPeerConnect)
    await this.components.registrar.unhandle(PROTOCOL).catch(err => { this.log.error('unhandle failed - %e', err) })
    this.shutdown.abort(new Error('messaging stopped'))
    for (const stream of this.inboundStreams) {
      stream.abort(new Error('messaging stopped'))
    }
    const idle = [...this.idleSessions.values()]
    this.idleSessions.clear()
    for (const { timer } of idle) {
      clearTimeout(timer)
    }
    await Promise.allSettled(idle.map(async ({ session }) => session.close()))
    await Promise.allSettled([...this.tasks])
    await this.inboxStore.flush()
    this.rateLimiter.clear()
    this.log('stopped')
  }

  /**
   * Sends one message and resolves once the peer acknowledged it (stored in its inbox).
   * Unless `queue: false`, the message is written to the outbox first, so a failure
   * leaves it there to be retried until its TTL.
   */
  async send (to: PeerId, body: Uint8Array, options: SendOptions = {}): Promise<SendResult> {
    // Step 0: local checks; nothing is queued if they fail
    if (body.byteLength > this.maxMessageBytes) {
      throw new MessageTooLargeError(body.byteLength, this.maxMessageBytes)
    }
    const id = options.id ?? randomUUID()
    const badId = checkId(id)
    if (badId != null) {
      throw new InvalidMessageError(`message ${badId}`)
    }
    const badType = checkContentType(options.contentType)
    if (badType != null) {
      throw new InvalidMessageError(badType)
    }
    options.signal?.throwIfAborted()
    const toText = to.toString()
    if (to.equals(this.components.peerId)) {
      throw new InvalidMessageError('cannot send a message to this node itself')
    }
    const now = Date.now()
    const queue = options.queue !== false

    // Step 1: the outbox. A pending entry with the same id is the same message sent again.
    const existing = queue ? await this.outboxStore.get(toText, id) : undefined
    const entry: OutboxEntry = existing?.state === 'pending'
      ? existing
      : { id, to: toText, createdAtMs: now, expiresAtMs: now + this.outboxTtlMs, attempts: 0, state: 'pending' }
    const message: Message = { id, sentAtMs: BigInt(entry.createdAtMs), body: body as Uint8Array<ArrayBuffer> }
    if (options.contentType != null) {
      message.contentType = options.contentType
    }
    const frame = Message.encode(message)
    if (queue) {
      await this.outboxStore.put(entry, frame)
      if (existing?.state !== 'pending') this.totals.queued++
    }

    // Step 2: one attempt now. Tracked, so stop() waits for its outbox write.
    // not AbortSignal.any(): with the long-lived shutdown signal it keeps heap per message (linked-signal.ts)
    const linked = linkSignals([this.shutdown.signal, options.signal])
    const run = this.attemptAndSettle(to, entry, frame, queue, linked.signal)
    const tracked = run.catch(() => {})
    this.tasks.add(tracked)
    void tracked.finally(() => this.tasks.delete(tracked))
    const { outcome, error } = await run.finally(linked.dispose)

    // Step 3: report; a user abort leaves the entry queued
    if (outcome.kind === 'ok') {
      return { id, status: 'OK', via: outcome.via, rttMs: outcome.rttMs }
    }
    if (options.signal?.aborted === true) {
      throw options.signal.reason
    }
    throw error ?? new PeerUnreachableError(id, toText, 'unknown failure', queue ? entry.expiresAtMs : undefined)
  }

  private async attemptAndSettle (to: PeerId, entry: OutboxEntry, frame: Uint8Array, queue: boolean, signal: AbortSignal): Promise<{ outcome: Outcome, error?: Error }> {
    const key = `${entry.to}/${entry.id}`
    const release = await this.sendSlots.acquire(entry.to, signal)
    this.inFlight.add(key)
    let outcome: Outcome
    try {
      outcome = await this.attempt(to, entry.id, frame, signal)
    } finally {
      this.inFlight.delete(key)
      release()
    }
    const error = await this.settle(entry, outcome, queue)
    return error == null ? { outcome } : { outcome, error }
  }

  /** Received messages in arrival order; `since` keeps those received at or after it (ms since the epoch). */
  async inbox (options: { since?: number, limit?: number } = {}): Promise<InboxMessage[]> {
    return this.inboxStore.list(options)
  }

  /**
   * Deletes received messages: all, or those received before `beforeMs` (ms since the
   * epoch). Their room goes back to the inbox quotas. Resolves with how many were deleted.
   */
  async clearInbox (options: { beforeMs?: number } = {}): Promise<number> {
    return this.inboxStore.clear(options)
  }

  /** Use of the inbox against its quotas, and bytes held for unfinished inbound frames against their budget. */
  usage (): MessagingUsage {
    return { inbox: this.inboxStore.usage(), inFlight: this.inFlightBudget.usage() }
  }

  /** Entries not yet acknowledged (pending) or given up on (failed), oldest first. */
  async outbox (): Promise<OutboxEntry[]> {
    return this.outboxStore.list()
  }

  /**
   * Removes a queued (or failed) message from the outbox: it is not retried again.
   * Resolves with the entry removed, or undefined when no entry has that id. A message on
   * the wire right now cannot be taken back: OutboxBusyError, try again a moment later.
   */
  async cancel (id: string): Promise<OutboxEntry | undefined> {
    const entry = (await this.outboxStore.list()).find(e => e.id === id)
    if (entry == null) return undefined
    if (this.inFlight.has(`${entry.to}/${entry.id}`)) throw new OutboxBusyError(id)
    await this.outboxStore.remove(entry.to, entry.id)
    this.log('message %s to %s cancelled', entry.id, entry.to)
    return entry
  }

  // --- sending -------------------------------------------------------------------------

  /** Opens a stream on the best connection to the peer: direct, else limited, else a new dial. */
  private async openSession (to: PeerId, signal: AbortSignal): Promise<OutboundSession> {
    const connection = pickConnection(this.components.connectionManager.getConnections(to)) ??
      await this.components.connectionManager.openConnection(to, { signal })
    const stream = await connection.newStream(PROTOCOL, { runOnLimitedConnection: true, signal })
    return new OutboundSession(stream, connection)
  }

  /**
   * One message: on the peer's idle stream if one is open (one round trip), else on a fresh
   * stream (two: the stream's protocol negotiation, then the message). The stream is kept
   * for the next message for IDLE_SESSION_MS. Never throws.
   */
  private async attempt (to: PeerId, id: string, frame: Uint8Array, signal: AbortSignal): Promise<Outcome> {
    this.totals.sent++
    const timeout = AbortSignal.timeout(this.ackTimeoutMs)
    const linked = linkSignals([signal, timeout])
    try {
      return await this.attemptWithin(to, id, frame, linked.signal, timeout)
    } finally {
      linked.dispose()
    }
  }

  /** attempt() within `deadline` (the caller's signal or the ack timeout). */
  private async attemptWithin (to: PeerId, id: string, frame: Uint8Array, deadline: AbortSignal, timeout: AbortSignal): Promise<Outcome> {
    const key = to.toString()
    const idle = this.takeIdleSession(to)
    if (idle != null) {
      const outcome = await this.exchangeOn(idle, id, frame, deadline, timeout)
      // an answer, even an error ack, is the peer's word on this message; only a broken stream is retried
      if (outcome.kind !== 'not-delivered' || outcome.cause == null || deadline.aborted) {
        this.keepIdleSession(key, idle, outcome)
        return outcome
      }
      // the idle stream had ended under us (the receiver's read timeout, a closed connection):
      // once more on a fresh stream. The receiver stores an id once, so a message that did
      // arrive before the ack was lost is not stored twice.
      this.log('idle stream to %s failed (%s); sending %s on a new stream', key, outcome.reason, id)
    }
    let session: OutboundSession | undefined
    try {
      session = await this.openSession(to, deadline)
      const outcome = await this.exchangeOn(session, id, frame, deadline, timeout)
      this.keepIdleSession(key, session, outcome)
      return outcome
    } catch (err) {
      session?.abort(err)
      return this.failure(err, timeout)
    }
  }

  /** The peer's idle stream, if it is still usable and no better connection has appeared. */
  private takeIdleSession (to: PeerId): OutboundSession | undefined {
    const key = to.toString()
    const entry = this.idleSessions.get(key)
    if (entry == null) {
      return undefined
    }
    this.idleSessions.delete(key)
    clearTimeout(entry.timer)
    const { session } = entry
    const best = pickConnection(this.components.connectionManager.getConnections(to))
    if (!session.usable() || best == null || (session.via === 'relayed' && !isRelayed(best))) {
      // gone, or relayed while a direct connection now exists: new messages take the direct one
      void session.close()
      return undefined
    }
    return session
  }

  /** Keeps a stream for the next message after a clean exchange (one idle stream per peer), else closes it. */
  private keepIdleSession (key: string, session: OutboundSession, outcome: Outcome): void {
    const clean = outcome.kind === 'ok' || outcome.kind === 'rate-limited' || outcome.kind === 'quota'
    if (!clean || !this.started || this.idleSessions.has(key) || !session.usable()) {
      if (outcome.kind === 'not-delivered') {
        session.abort(new Error(outcome.reason))
      } else {
        void session.close()
      }
      return
    }
    const timer = setTimeout(() => {
      if (this.idleSessions.get(key)?.session === session) {
        this.idleSessions.delete(key)
        void session.close()
      }
    }, IDLE_SESSION_MS)
    timer.unref?.()
    this.idleSessions.set(key, { session, timer })
  }

  private async exchangeOn (session: OutboundSession, id: string, frame: Uint8Array, signal: AbortSignal, timeout: AbortSignal): Promise<Outcome> {
    try {
      const { ack, rttMs } = await session.exchange(id, frame, signal)
      return this.outcomeOf(ack, rttMs, session.via)
    } catch (err) {
      session.abort(err)
      return this.failure(err, timeout)
    }
  }

  private failure (err: unknown, timeout: AbortSignal): Outcome {
    if (timeout.aborted) {
      return { kind: 'not-delivered', reason: `no ack within ${this.ackTimeoutMs} ms`, cause: new AckTimeoutError(this.ackTimeoutMs, { cause: err }) }
    }
    return { kind: 'not-delivered', reason: errorText(err), cause: err }
  }

  private outcomeOf (ack: Ack, rttMs: number, via: Via): Outcome {
    switch (ack.status) {
      case Ack.Status.OK:
        return { kind: 'ok', rttMs, via }
      case Ack.Status.TOO_LARGE:
      case Ack.Status.REJECTED:
      case Ack.Status.MALFORMED: {
        const outcome: Outcome = { kind: 'rejected', status: ack.status }
        if (ack.reason != null) {
          outcome.reason = ack.reason
        }
        return outcome
      }
      case Ack.Status.RATE_LIMITED:
        return { kind: 'rate-limited' }
      case Ack.Status.QUOTA_EXCEEDED:
        return ack.reason != null ? { kind: 'quota', reason: ack.reason } : { kind: 'quota' }
      default:
        // INTERNAL, unspecified, or a status this version does not know: try again later
        return { kind: 'not-delivered', reason: `peer answered ${String(ack.status ?? 'no status')}${ack.reason != null ? `: ${ack.reason}` : ''}` }
    }
  }

  /**
   * Writes the outcome of an attempt into the outbox and emits its event. Returns the
   * error send() throws for it (undefined on success).
   */
  private async settle (entry: OutboxEntry, outcome: Outcome, queue: boolean): Promise<Error | undefined> {
    const to = entry.to
    if (outcome.kind === 'ok') {
      if (queue) {
        await this.outboxStore.remove(to, entry.id)
      }
      this.safeDispatchEvent('message:delivered', { detail: { id: entry.id, to } })
      return undefined
    }
    entry.attempts++
    if (outcome.kind === 'rejected') {
      entry.state = 'failed'
      entry.lastError = outcome.status + (outcome.reason != null ? `: ${outcome.reason}` : '')
      if (queue) {
        await this.outboxStore.update(entry)
      }
      this.safeDispatchEvent('message:failed', { detail: { ...entry } })
      return new MessageRejectedError(entry.id, to, outcome.status, outcome.reason)
    }
    entry.lastError = outcome.kind === 'rate-limited'
      ? 'RATE_LIMITED'
      : outcome.kind === 'quota' ? `QUOTA_EXCEEDED${outcome.reason != null ? `: ${outcome.reason}` : ''}` : outcome.reason
    if (queue && Date.now() >= entry.expiresAtMs) {
      const lastError = entry.lastError
      await this.expire(entry)
      return new MessageExpiredError(entry.id, to, entry.attempts, lastError, { cause: outcome.kind === 'not-delivered' ? outcome.cause : undefined })
    }
    if (queue) {
      await this.outboxStore.update(entry)
    }
    const retryUntil = queue ? entry.expiresAtMs : undefined
    switch (outcome.kind) {
      case 'rate-limited':
        return new MessageRateLimitedError(entry.id, to, retryUntil)
      case 'quota':
        return new InboxFullError(entry.id, to, retryUntil, outcome.reason)
      default:
        return new PeerUnreachableError(entry.id, to, outcome.reason, retryUntil, { cause: outcome.cause })
    }
  }

  private async expire (entry: OutboxEntry): Promise<void> {
    entry.state = 'failed'
    entry.lastError = `expired after ${entry.attempts} attempt(s)${entry.lastError != null ? `; last error: ${entry.lastError}` : ''}`
    await this.outboxStore.update(entry)
    this.log('message %s to %s expired', entry.id, entry.to)
    this.safeDispatchEvent('message:failed', { detail: { ...entry } })
  }

  // --- the outbox loop -----------------------------------------------------------------

  private track (task: Promise<unknown>): void {
    const t = task.catch(err => { this.log.error('background task failed - %e', err) })
    this.tasks.add(t)
    void t.finally(() => this.tasks.delete(t))
  }

  private schedule (): void {
    if (!this.started || this.timer != null) {
      return
    }
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.track(this.sweep().finally(() => { this.schedule() }))
    }, this.retryIntervalMs)
    this.timer.unref()
  }

  private onPeerConnect (evt: CustomEvent<PeerId>): void {
    if (this.started) {
      this.track(this.retryPeer(evt.detail.toString()))
    }
  }

  /** Expires old entries and retries the rest, a few peers at a time. */
  private async sweep (): Promise<void> {
    if (this.sweeping || !this.started) {
      return
    }
    this.sweeping = true
    try {
      const now = Date.now()
      if (now - this.lastPruneAt >= Math.min(DEDUPE_PRUNE_INTERVAL_MS, this.outboxTtlMs)) {
        this.lastPruneAt = now
        const pruned = await this.inboxStore.pruneDedupe(now - this.outboxTtlMs)
        if (pruned > 0) {
          this.log('dropped %d dedupe ids older than the outbox TTL', pruned)
        }
      }
      const byPeer = new Map<string, OutboxEntry[]>()
      for (const entry of await this.outboxStore.list()) {
        if (entry.state !== 'pending' || this.inFlight.has(`${entry.to}/${entry.id}`)) {
          continue
        }
        if (entry.expiresAtMs <= now) {
          await this.expire(entry)
          continue
        }
        const list = byPeer.get(entry.to) ?? []
        list.push(entry)
        byPeer.set(entry.to, list)
      }
      const peers = [...byPeer.entries()]
      const workers = Array.from({ length: Math.min(RETRY_PEER_CONCURRENCY, peers.length) }, async () => {
        for (let next = peers.shift(); next != null && this.started; next = peers.shift()) {
          await this.retryPeer(next[0], next[1])
        }
      })
      await Promise.all(workers)
    } finally {
      this.sweeping = false
    }
  }

  /** Sends a peer's pending entries, oldest first, over one stream; stops at the first failure. */
  private async retryPeer (to: string, entries?: OutboxEntry[]): Promise<void> {
    if (this.retryingPeers.has(to) || !this.started) {
      return
    }
    this.retryingPeers.add(to)
    let release: (() => void) | undefined
    let session: OutboundSession | undefined
    try {
      const pending = (entries ?? await this.outboxStore.list(to)).filter(e => e.state === 'pending')
      if (pending.length === 0) {
        return
      }
      const peer = peerIdFromString(to)
      const signal = this.shutdown.signal
      release = await this.sendSlots.acquire(to, signal)
      for (const entry of pending) {
        const key = `${to}/${entry.id}`
        if (!this.started || this.inFlight.has(key)) {
          continue
        }
        if (entry.expiresAtMs <= Date.now()) {
          await this.expire(entry)
          continue
        }
        const frame = await this.outboxStore.getFrame(to, entry.id)
        if (frame == null) {
          continue // removed meanwhile: delivered by a concurrent send()
        }
        this.inFlight.add(key)
        let outcome: Outcome
        try {
          const timeout = AbortSignal.timeout(this.ackTimeoutMs)
          const deadline = linkSignals([signal, timeout])
          try {
            session ??= await this.openSession(peer, deadline.signal)
            outcome = await this.exchangeOn(session, entry.id, frame, deadline.signal, timeout)
          } catch (err) {
            outcome = this.failure(err, timeout)
          } finally {
            deadline.dispose()
          }
        } finally {
          this.inFlight.delete(key)
        }
        if (!this.started && outcome.kind !== 'ok') {
          break // stopping: leave the entry as it was
        }
        await this.settle(entry, outcome, true)
        this.log.trace('retry of %s to %s: %s', entry.id, to, outcome.kind)
        if (outcome.kind === 'not-delivered' || outcome.kind === 'rate-limited' || outcome.kind === 'quota') {
          break // the peer is unreachable, wants us to slow down, or is full: next sweep
        }
        if (outcome.kind === 'rejected') {
          // the receiver may end the stream after an error ack: start afresh
          await session?.close()
          session = undefined
        }
      }
    } finally {
      await session?.close()
      release?.()
      this.retryingPeers.delete(to)
    }
  }

  // --- receiving -----------------------------------------------------------------------

  /**
   * The receiver's side of one stream:
   * 1. read a frame (length prefix capped at the frame limit, with a read timeout);
   * 2. decode and check it; 3. apply the sender's rate limit;
   * 4. store it in the inbox (once per sender + id); 5. ack; repeat until the sender closes.
   * A frame that breaks the framing gets an error ack and ends the stream.
   */
  private async handleStream (stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString()
    const via: Via = isRelayed(connection) ? 'relayed' : 'direct'
    const frames = new FrameStream(stream, this.maxFrameBytes, this.inFlightBudget)
    this.inboundStreams.add(stream)
    /** A frame was refused before its body was read: the rest of it is not wanted. */
    let refusedMidFrame = false
    try {
      while (stream.status === 'open') {
        const linked = linkSignals([AbortSignal.timeout(this.readTimeoutMs), this.shutdown.signal])
        const signal = linked.signal
        try {
          let frame
          try {
            frame = await frames.read({ signal })
          } catch (err) {
            if (err instanceof FrameTooLargeError) {
              this.log('frame from %s refused - %s', from, err.message)
              await frames.write(Ack.encode({ id: '', status: Ack.Status.TOO_LARGE, reason: `frame over ${this.maxFrameBytes} bytes` }), { signal })
              refusedMidFrame = true
              break
            }
            if (err instanceof InFlightBudgetError) {
              this.log('frame from %s refused - %s', from, err.message)
              await frames.write(Ack.encode({ id: '', status: Ack.Status.RATE_LIMITED, reason: 'receiver busy: too many unfinished frames' }), { signal })
              refusedMidFrame = true
              break
            }
            if (err instanceof BadPrefixError) {
              await frames.write(Ack.encode({ id: '', status: Ack.Status.MALFORMED, reason: 'bad length prefix' }), { signal })
              refusedMidFrame = true
              break
            }
            if (err instanceof TruncatedFrameError) {
              break // the sender closed its side in the middle of a frame: nothing to store
            }
            throw err
          }
          if (frame == null) {
            break // the sender closed its side between frames: done
          }
          const ack = await this.receive(frame, from, via)
          frames.release()
          await frames.write(Ack.encode(ack), { signal })
          if (ack.status === Ack.Status.MALFORMED) {
            break
          }
        } finally {
          linked.dispose()
        }
      }
      if (refusedMidFrame) {
        // the ack is on its way (data and reset keep their order on the connection); the
        // body behind the refused prefix is dropped now instead of buffered until a close
        stream.abort(new Error('frame refused'))
      } else {
        await stream.close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) })
      }
    } catch (err) {
      this.log('inbound stream from %s ended - %s', from, errorText(err))
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      frames.release()
      this.inboundStreams.delete(stream)
    }
  }

  /** Steps 2–4 for one frame; returns the ack to send. Never throws. */
  private async receive (frame: Uint8Array, from: string, via: Via): Promise<Ack> {
    let message: Message
    try {
      message = Message.decode(frame)
    } catch (err) {
      return { id: '', status: Ack.Status.MALFORMED, reason: errorText(err).slice(0, MAX_REASON_LENGTH) }
    }
    const id = message.id
    const badId = checkId(id)
    if (badId != null) {
      return { id: '', status: Ack.Status.MALFORMED, reason: badId }
    }
    const bad = checkSentAtMs(message.sentAtMs) ?? checkContentType(message.contentType)
    if (bad != null) {
      this.log('message %s from %s refused - %s', id, from, bad)
      return { id, status: Ack.Status.MALFORMED, reason: bad }
    }
    if (message.body.byteLength > this.maxMessageBytes) {
      return { id, status: Ack.Status.TOO_LARGE, reason: `body over ${this.maxMessageBytes} bytes` }
    }
    if (!this.rateLimiter.tryTake(from)) {
      return { id, status: Ack.Status.RATE_LIMITED, reason: 'over the inbound message rate' }
    }
    try {
      const incoming: Parameters<InboxStore['add']>[0] = {
        id,
        from,
        sentAtMs: Number(message.sentAtMs),
        body: message.body,
        via
      }
      if (message.contentType != null) {
        incoming.contentType = message.contentType
      }
      const result = await this.inboxStore.add(incoming, Date.now())
      if (result.kind === 'stored') {
        this.safeDispatchEvent('message', { detail: result.message })
      }
      return { id, status: Ack.Status.OK }
    } catch (err) {
      if (err instanceof InboxQuotaError) {
        this.log('message %s from %s refused - %s', id, from, err.message)
        return { id, status: Ack.Status.QUOTA_EXCEEDED, reason: err.scope === 'sender' ? 'over the inbox quota for this sender' : 'inbox full' }
      }
      this.log.error('could not store message %s from %s - %e', id, from, err)
      return { id, status: Ack.Status.INTERNAL, reason: 'could not store the message' }
    }
  }
}
