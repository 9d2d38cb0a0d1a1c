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

/**
 * The latest sentAtMs accepted: 9999-12-31T23:59:59.999Z, the last instant with a
 * four-digit year (RFC 3339). Later values (2^63, a negative int64 read as uint64) are
 * not a clock but an attack or a bug, and `new Date()` throws on those past 8.64e15:
 * such a message is refused MALFORMED rather than clamped, so the sender learns of it.
 */
export const MAX_SENT_AT_MS = 253_402_300_799_999

/**
 * The earliest sentAtMs accepted: 2000-01-01T00:00:00Z. No burrow message was sent before
 * burrow existed, and values below 2^32 must never reach the store: protons-runtime 7.1.2
 * encodes a uint64 bigint in [2^31, 2^32) wrongly (one varint byte written, the rest left
 * as stale buffer memory), so such a record was stored as another time or as bytes that
 * do not decode (found by the fuzz pass, test/fuzz; not reported upstream that we found).
 */
export const MIN_SENT_AT_MS = 946_684_800_000

/**
 * Inbox quota over all senders: 256 MiB is 256 messages of the largest size, a small share
 * of a Raspberry Pi's SD card or a small VPS disk; 10,000 messages is weeks of chat. Past
 * either, new messages are answered QUOTA_EXCEEDED and stay in their senders' outboxes.
 */
export const DEFAULT_INBOX_MAX_BYTES = 256 * 1024 * 1024
export const DEFAULT_INBOX_MAX_COUNT = 10_000

/**
 * Inbox quota per sender: 1/16 of the total (16 MiB, 1,000 messages), so one PeerId
 * cannot take the inbox from everyone else, and filling it takes 16 identities.
 */
export const DEFAULT_INBOX_MAX_BYTES_PER_SENDER = 16 * 1024 * 1024
export const DEFAULT_INBOX_MAX_COUNT_PER_SENDER = 1_000

/**
 * Bytes held for unfinished (half-received) frames over all inbound streams: 32 MiB is
 * 32 frames of the largest size at once, two fully busy connections (16 streams each).
 * Without a cap, 12 peers took the daemon from 99 to 357 MB (issue 10). A frame whose
 * length would go over is refused RATE_LIMITED (the sender keeps it queued).
 */
export const DEFAULT_IN_FLIGHT_MAX_BYTES = 32 * 1024 * 1024

/** How often dedupe ids older than the outbox TTL are dropped (a sender retries no longer than that). */
export const DEDUPE_PRUNE_INTERVAL_MS = 10 * 60 * 1000

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
