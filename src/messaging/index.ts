/**
 * Messaging: burrow's application message protocol, `/burrow/message/1.0.0`.
 *
 * Send a message to a PeerId and get a promise that resolves once the peer has stored it;
 * receive messages as events and from a persistent inbox. Every message goes through a
 * persistent outbox first, so nothing is lost silently: it is acknowledged, or still being
 * retried (until its TTL), or reported as failed.
 *
 * @example
 * ```ts
 * const node = await createLibp2p({ datastore, …, services: { messaging: messaging() } })
 * const m = node.services.messaging
 * m.addEventListener('message', evt => { use(evt.detail.body) })
 * await m.send(peerId, new TextEncoder().encode('hello'))
 * ```
 *
 * @see ../../docs/messaging.md
 */
import { Messaging } from './messaging.js'
import type { Libp2pEvents, PeerId, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { InboxUsage } from './store.js'
import type { Datastore } from 'interface-datastore'

export { Messaging }
export {
  PROTOCOL as MESSAGE_PROTOCOL, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_ACK_TIMEOUT_MS, DEFAULT_OUTBOX_TTL_MS,
  DEFAULT_RETRY_INTERVAL_MS, DEFAULT_MAX_INBOUND_PER_SECOND, DEFAULT_READ_TIMEOUT_MS, MAX_SENT_AT_MS, MIN_SENT_AT_MS,
  DEFAULT_INBOX_MAX_BYTES, DEFAULT_INBOX_MAX_COUNT, DEFAULT_INBOX_MAX_BYTES_PER_SENDER,
  DEFAULT_INBOX_MAX_COUNT_PER_SENDER, DEFAULT_IN_FLIGHT_MAX_BYTES
} from './constants.js'
export {
  MessageTooLargeError, InvalidMessageError, MessageRejectedError, PeerUnreachableError, MessageRateLimitedError,
  InboxFullError, MessageExpiredError, AckTimeoutError, UnexpectedAckError, OutboxBusyError
} from './errors.js'
export { GuardedEventEmitter } from './guarded-events.js'
export { isValidTimestamp } from './validate.js'
export type { InboxUsage } from './store.js'

export interface MessagingInit {
  /** Largest body sent or accepted, in bytes (default 1 MiB). */
  maxMessageBytes?: number
  /** How long an undelivered message stays in the outbox being retried (default 24 h). */
  outboxTtlMs?: number
  /** Time between outbox sweeps (default 10 s); a peer connecting also triggers a retry. */
  retryIntervalMs?: number
  /** Time from opening the stream to the ack, per attempt (default 30 s). */
  ackTimeoutMs?: number
  /** Time a receiver waits for the next frame on a stream before resetting it (default 30 s). */
  readTimeoutMs?: number
  /** Inbound messages accepted per second from one peer, with a one-second burst (default 100). */
  maxInboundPerSecond?: number
  /** Inbox quota over all senders, in stored bytes (default 256 MiB); past it, QUOTA_EXCEEDED. */
  inboxMaxBytes?: number
  /** Inbox quota over all senders, in messages (default 10,000). */
  inboxMaxCount?: number
  /** Inbox quota per sender, in stored bytes (default 16 MiB). */
  inboxMaxBytesPerSender?: number
  /** Inbox quota per sender, in messages (default 1,000). */
  inboxMaxCountPerSender?: number
  /** Bytes held for unfinished inbound frames over all streams (default 32 MiB); past it, new frames get RATE_LIMITED. */
  inFlightMaxBytes?: number
}

/** What `status` shows of messaging: the inbox against its quotas, unfinished frames against their budget. */
export interface MessagingUsage {
  inbox: InboxUsage
  inFlight: { bytes: number, maxBytes: number, refused: number }
}

/** What messaging reads of libp2p: it is a libp2p service (`services: { messaging: messaging(init) }`). */
export interface MessagingComponents {
  peerId: PeerId
  registrar: Pick<Registrar, 'handle' | 'unhandle'>
  connectionManager: Pick<ConnectionManager, 'getConnections' | 'openConnection'>
  /** libp2p's event bus: 'peer:connect' sends the outbox to a peer at once */
  events: TypedEventTarget<Libp2pEvents>
  /** The shared datastore (libp2p's; LevelDB on disk in production); keys live under /burrow/inbox and /burrow/outbox. */
  datastore: Datastore
}

export interface InboxMessage {
  id: string
  /** The sender's PeerId. */
  from: string
  /** The sender's clock when it first sent the message (ms since the epoch). */
  sentAtMs: number
  /** Our clock when it was stored (ms since the epoch). */
  receivedAtMs: number
  body: Uint8Array
  contentType?: string
  /** Whether it arrived over a direct connection or through a relay. */
  via: 'direct' | 'relayed'
}

export interface OutboxEntry {
  id: string
  /** The recipient's PeerId. */
  to: string
  createdAtMs: number
  /** After this the entry is no longer retried and becomes 'failed'. */
  expiresAtMs: number
  /** Delivery attempts made so far. */
  attempts: number
  lastError?: string
  /** Delivered entries are removed, so listings show 'pending' and 'failed'. */
  state: 'pending' | 'failed' | 'delivered'
}

export interface SendOptions {
  contentType?: string
  /** Unique per sender; sending an id again is a retry of the same message (stored once). Default: a random UUID. */
  id?: string
  /** Stops waiting; a queued message stays in the outbox. */
  signal?: AbortSignal
  /** Keep the message in the outbox for retries when this attempt fails (default true). */
  queue?: boolean
}

export interface SendResult {
  id: string
  status: 'OK'
  /** The path the acknowledged attempt took. */
  via: 'direct' | 'relayed'
  /** From writing the message to reading its ack. */
  rttMs: number
}

export interface MessagingEvents {
  /** A new message was stored in the inbox (not emitted for duplicates). */
  'message': CustomEvent<InboxMessage>
  /** The peer acknowledged a message. */
  'message:delivered': CustomEvent<{ id: string, to: string }>
  /** A message will not be delivered: rejected by the peer or expired in the outbox. */
  'message:failed': CustomEvent<OutboxEntry>
}

export function createMessaging (components: MessagingComponents, init?: MessagingInit): Messaging {
  return new Messaging(components, init)
}

/** Messaging as a libp2p service: `services: { messaging: messaging(init) }`. */
export function messaging (init?: MessagingInit): (components: MessagingComponents) => Messaging {
  return (components) => new Messaging(components, init)
}

export type { PeerId }
