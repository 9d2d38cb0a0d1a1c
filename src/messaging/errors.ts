import { BurrowError } from '../errors/index.js'

/** The body is larger than the local limit; nothing was queued or sent. */
export class MessageTooLargeError extends BurrowError {
  constructor (size: number, limit: number, options?: ErrorOptions) {
    super('ERR_MESSAGE_TOO_LARGE', `message body is ${size} bytes, over the limit of ${limit} bytes`, options)
  }
}

/** The caller passed something unusable (an id that is empty or too long, a bad content type). */
export class InvalidMessageError extends BurrowError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_INVALID_MESSAGE', message, options)
  }
}

/**
 * The receiver refused the message for good (TOO_LARGE, REJECTED or MALFORMED ack). The
 * outbox entry is marked failed and is not retried.
 */
export class MessageRejectedError extends BurrowError {
  readonly id: string
  readonly to: string
  /** The ack status the receiver sent, e.g. `TOO_LARGE`. */
  readonly status: string

  constructor (id: string, to: string, status: string, reason?: string, options?: ErrorOptions) {
    super('ERR_MESSAGE_REJECTED', `peer ${to} rejected message ${id}: ${status}${reason != null && reason !== '' ? ` (${reason})` : ''}`, options)
    this.id = id
    this.to = to
    this.status = status
  }
}

function queuedText (id: string, retryUntil: number | undefined): string {
  return retryUntil != null
    ? `queued in the outbox, retrying until ${new Date(retryUntil).toISOString()} (sending id ${id} again does not duplicate it)`
    : 'not queued'
}

/**
 * The message was not delivered yet: the peer could not be reached, the ack did not
 * arrive in time, or the peer could not store it. When `queued` is true it stays in the
 * outbox and is retried until `retryUntil`.
 */
export class PeerUnreachableError extends BurrowError {
  readonly id: string
  readonly to: string
  readonly queued: boolean
  /** Milliseconds since the epoch until which the outbox keeps retrying (when queued). */
  readonly retryUntil?: number

  constructor (id: string, to: string, reason: string, retryUntil?: number, options?: ErrorOptions) {
    super('ERR_PEER_UNREACHABLE', `message ${id} to ${to} not delivered yet (${reason}); ${queuedText(id, retryUntil)}`, options)
    this.id = id
    this.to = to
    this.queued = retryUntil != null
    if (retryUntil != null) {
      this.retryUntil = retryUntil
    }
  }
}

/**
 * The receiver answered RATE_LIMITED: this sender is over its inbound message rate there,
 * or the receiver is busy with unfinished frames. The message stays in the outbox and is
 * retried, like PeerUnreachableError.
 */
export class MessageRateLimitedError extends BurrowError {
  readonly id: string
  readonly to: string
  readonly queued: boolean
  readonly retryUntil?: number

  constructor (id: string, to: string, retryUntil?: number, options?: ErrorOptions) {
    super('ERR_MESSAGE_RATE_LIMITED', `peer ${to} is rate limiting us, message ${id} not delivered yet; ${queuedText(id, retryUntil)}`, options)
    this.id = id
    this.to = to
    this.queued = retryUntil != null
    if (retryUntil != null) {
      this.retryUntil = retryUntil
    }
  }
}

/**
 * The receiver answered QUOTA_EXCEEDED: its inbox is full (for this sender or in total).
 * The message stays in the outbox and is retried until its TTL, like a rate limit.
 */
export class InboxFullError extends BurrowError {
  readonly id: string
  readonly to: string
  readonly queued: boolean
  readonly retryUntil?: number

  constructor (id: string, to: string, retryUntil?: number, reason?: string, options?: ErrorOptions) {
    super('ERR_PEER_INBOX_FULL', `peer ${to}'s inbox is over its quota${reason != null && reason !== '' ? ` (${reason})` : ''}, message ${id} not delivered yet; ${queuedText(id, retryUntil)}`, options)
    this.id = id
    this.to = to
    this.queued = retryUntil != null
    if (retryUntil != null) {
      this.retryUntil = retryUntil
    }
  }
}

/** The message's outbox TTL has passed without an ack: it is marked failed and no longer retried. */
export class MessageExpiredError extends BurrowError {
  readonly id: string
  readonly to: string
  readonly queued = false

  constructor (id: string, to: string, attempts: number, lastError?: string, options?: ErrorOptions) {
    super('ERR_MESSAGE_EXPIRED', `message ${id} to ${to} expired: its outbox TTL passed after ${attempts} attempt(s)${lastError != null ? ` (last: ${lastError})` : ''}; it is marked failed and will not be retried`, options)
    this.id = id
    this.to = to
  }
}

/** No ack arrived within the ack timeout. Used as the `cause` of a PeerUnreachableError. */
export class AckTimeoutError extends BurrowError {
  constructor (timeoutMs: number, options?: ErrorOptions) {
    super('ERR_ACK_TIMEOUT', `no ack within ${timeoutMs} ms`, options)
  }
}

/** The ack on the wire did not answer the message that was sent. */
export class UnexpectedAckError extends BurrowError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_UNEXPECTED_ACK', message, options)
  }
}

/** A message cannot be cancelled while it is on the wire. */
export class OutboxBusyError extends BurrowError {
  constructor (id: string) {
    super('ERR_OUTBOX_BUSY', `message ${id} is being sent right now and cannot be taken back; try again in a moment`)
  }
}
