/**
 * burrow's library API.
 *
 * ```ts
 * import { createNode } from 'burrow'
 * const node = await createNode({ home: '/var/lib/burrow', config: { network: 'burrow' } })
 * node.addEventListener('message', (evt) => { console.log(evt.detail.from, new TextDecoder().decode(evt.detail.body)) })
 * await node.start()
 * const { via } = await node.send('12D3KooW…', 'hello')
 * ```
 */
export { createNode, BurrowNode } from './node/index.js'
export type { DoctorReport } from './doctor/index.js'
export type { CreateNodeOptions, SendOptions, NodeStatus, ConnectionInfo, FindResult, DialResult, PingReply, BurrowNodeEvents, Reachability, ReservationInfo, PortMappingInfo } from './node/index.js'
// every error the README names, catchable by class (each also has a stable `code`)
export { InvalidPeerIdError, InvalidMultiaddrError, PeerNotFoundError, DialFailedError, NotStartedError, HomeInUseError, DatastoreOpenError, ListenFailedError } from './node/index.js'
export {
  MessageTooLargeError, InvalidMessageError, MessageRejectedError, PeerUnreachableError, MessageRateLimitedError,
  InboxFullError, MessageExpiredError, AckTimeoutError, UnexpectedAckError, OutboxBusyError
} from './messaging/index.js'
export type { InboxMessage, OutboxEntry, SendResult } from './messaging/index.js'
export type { BurrowEvent, BurrowEventPayloads, BurrowEventType } from './events/index.js'
// the config table, for tools that print or check settings (bench/relay.ts)
export { FIELDS as CONFIG_FIELDS, InvalidConfigError } from './config/index.js'
export type { BurrowConfig } from './config/index.js'
export { BurrowError, TimeoutError, describeError } from './errors/index.js'
// the control socket's client, for scripts that drive a running daemon (bench/)
export { ControlClient, NoDaemonError, DaemonRunningError, RemoteError, ControlProtocolError } from './control/index.js'
