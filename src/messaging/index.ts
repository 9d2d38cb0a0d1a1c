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
import type { MessagingComponents, MessagingInit } from './types.js'
import type { PeerId } from '@libp2p/interface'

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

export type {
  MessagingInit, MessagingUsage, MessagingComponents, InboxMessage, OutboxEntry, SendOptions, SendResult, MessagingEvents,
  InboxQuota, InboxUsage
} from './types.js'

export function createMessaging (components: MessagingComponents, init?: MessagingInit): Messaging {
  return new Messaging(components, init)
}

/** Messaging as a libp2p service: `services: { messaging: messaging(init) }`. */
export function messaging (init?: MessagingInit): (components: MessagingComponents) => Messaging {
  return (components) => new Messaging(components, init)
}

export type { PeerId }
