/** The messaging service's public types (re-exported by index.ts, its door; here so the rooms behind the door need not import it). */
import type { Libp2pEvents, PeerId, TypedEventTarget, ComponentLogger } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { Datastore } from 'interface-datastore'

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
  logger: ComponentLogger
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

export interface InboxQuota {
  maxBytes: number
  maxCount: number
  maxBytesPerSender: number
  maxCountPerSender: number
}

/** Use of the inbox against its quota; bytes are the stored records' sizes. */
export interface InboxUsage extends InboxQuota {
  bytes: number
  count: number
  /** Senders with at least one message stored. */
  senders: number
  /** Records that could not be read or shown (corrupt, or a timestamp no date can hold), skipped by listings. */
  skipped: number
}
