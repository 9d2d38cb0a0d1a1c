/**
 * Every default of the message protocol, each with the reason it has the value it has.
 *
 * @see ../../docs/messaging.md
 */

/** Protocol id negotiated by multistream-select; the version bumps on any wire change. */
export const PROTOCOL = '/burrow/message/1.0.0'

/** 1 MiB per body: the design's default; large enough for chat and small files, small enough to hold in memory. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024

/** Room for the fields around the body (id, sentAtMs, contentType, protobuf tags) inside one frame. */
export const FRAME_OVERHEAD_BYTES = 1024

/** Ids are keys in two datastores, so they stay short; 128 bytes holds a UUID, a ULID or a hash. */
export const MAX_ID_BYTES = 128

/** A MIME type fits easily; anything longer is not a content type. */
export const MAX_CONTENT_TYPE_BYTES = 256

/** 30 s from writing a message to its ack: a 1 MiB body over a slow relay (~40 KiB/s) plus a disk write. */
export const DEFAULT_ACK_TIMEOUT_MS = 30_000

/** 30 s for the next frame on an inbound stream, so a stalled or silent peer cannot hold a stream forever. */
export const DEFAULT_READ_TIMEOUT_MS = 30_000

/** 24 h in the outbox: long enough to ride out a laptop lid closed overnight, short enough not to surprise. */
export const DEFAULT_OUTBOX_TTL_MS = 24 * 60 * 60 * 1000

/** 10 s between outbox sweeps; a 'peer:connect' also triggers an immediate attempt, so this is only the fallback. */
export const DEFAULT_RETRY_INTERVAL_MS = 10_000

/** 100 messages/s per peer: far above human or app chatter, low enough that one peer cannot saturate the disk. */
export const DEFAULT_MAX_INBOUND_PER_SECOND = 100

/** A peer may burst one second's worth of messages before the rate applies. */
export const INBOUND_BURST_SECONDS = 1

/** Inbound streams per connection for this protocol: a sender needs few, since one stream carries many messages. */
export const MAX_INBOUND_STREAMS = 16

/** Outbound streams per connection for this protocol, the mirror of the inbound limit. */
export const MAX_OUTBOUND_STREAMS = 16

/**
 * How long an outbound stream stays open after its last ack, so the next message to the
 * same peer skips opening a stream (a round trip). Below the receiver's read timeout
 * (DEFAULT_READ_TIMEOUT_MS), which ends a stream that stays silent.
 */
export const IDLE_SESSION_MS = 10_000

/** Concurrent sends to one peer; below MAX_INBOUND_STREAMS so a busy sender never trips the receiver's limit. */
export const MAX_CONCURRENT_SENDS_PER_PEER = 8

/** Peers retried in parallel by one outbox sweep, so a long outbox does not open hundreds of dials at once. */
export const RETRY_PEER_CONCURRENCY = 8

/** Time allowed to flush our side of a stream when closing it politely before it is aborted. */
export const CLOSE_TIMEOUT_MS = 5_000

/** Datastore key prefixes. Each namespace is its own folder so prefix queries never overlap. */
export const INBOX_MESSAGES_PREFIX = '/burrow/inbox/msg/'
export const INBOX_IDS_PREFIX = '/burrow/inbox/ids/'
export const INBOX_NEXT_SEQ_KEY = '/burrow/inbox/meta/next-seq'
export const OUTBOX_META_PREFIX = '/burrow/outbox/meta/'
export const OUTBOX_FRAME_PREFIX = '/burrow/outbox/frame/'
