import { changed, field } from './patch.js'
import type { UpstreamPatch } from './patch.js'

/**
 * @libp2p/kad-dht's handler of an inbound DHT stream (`rpc.onIncomingStream`) arms an
 * `AbortSignal.timeout(incomingMessageTimeout)` (10 s) with a listener that aborts the stream,
 * and re-arms it after each message; when the stream ends (the remote closed it, or a read
 * failed) it returns without removing that listener. Node keeps a timeout signal that has
 * listeners alive until it fires, so every inbound DHT stream, closed or not, with its
 * buffers, is held for 10 s after it ended: ~6 KB per request measured (test/node/
 * find-signal.test.ts's server; a heap snapshot shows the closed YamuxStreams retained by
 * `abortListener` through Node's gcPersistentSignals). A peer that opens DHT streams as fast
 * as it can makes a DHT server hold 10 s of them.
 *
 * burrow hands kad-dht a stand-in for each inbound stream that forwards everything to the real
 * stream while the handler runs, and lets go of it when the handler returns: the listener left
 * on the timer then holds only the empty stand-in, whose abort() does nothing.
 */
export const KAD_DHT_INBOUND: UpstreamPatch = {
  id: 'kad-dht-inbound-stream',
  package: '@libp2p/kad-dht',
  writtenFor: '16.4.x',
  issue: 'none filed: rpc.onIncomingStream leaves its abort listener on the 10 s AbortSignal.timeout when a stream ends, holding each inbound DHT stream 10 s after it closed',
  what: 'wraps service.rpc.onIncomingStream (bound by kad-dht when it registers its protocol): the handler gets a stand-in for the stream, detached when it returns',
  file: 'src/upstream/kad-dht-inbound.ts'
}

type InboundHandler = (stream: object, connection: unknown) => Promise<void>

/** The kad-dht service's RPC object, or UPSTREAM_CHANGED. */
export function checkKadDhtRpc (service: unknown, installed?: string): { onIncomingStream: InboundHandler } {
  const rpc = field(service, 'rpc')
  if (typeof field(rpc, 'onIncomingStream') !== 'function') throw changed(KAD_DHT_INBOUND, 'rpc.onIncomingStream on the kad-dht service', installed)
  return rpc as { onIncomingStream: InboundHandler }
}

/** what a stand-in reads through: the stream until detached */
interface Holder { stream: object | undefined }

const noop = async (): Promise<void> => {}

/** one handler for every stand-in: its target is the holder, not the stream */
const STAND_IN: ProxyHandler<Holder> = {
  get (holder, prop) {
    const target = holder.stream
    if (target === undefined) return prop === 'abort' || prop === 'close' ? noop : undefined
    const value = Reflect.get(target, prop, target) as unknown
    return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
  },
  set (holder, prop, value) {
    if (holder.stream !== undefined) Reflect.set(holder.stream, prop, value, holder.stream)
    return true
  },
  has (holder, prop) {
    return holder.stream !== undefined && Reflect.has(holder.stream, prop)
  },
  getPrototypeOf (holder) {
    return holder.stream === undefined ? null : Reflect.getPrototypeOf(holder.stream)
  }
}

/**
 * A stand-in for `stream`: property reads (methods bound to the stream), writes and `in` go
 * to the stream until detach(); after it, abort() and close() do nothing and the rest reads
 * as undefined, and the stand-in no longer references the stream.
 */
export function detachable<T extends object> (stream: T): { stream: T, detach: () => void } {
  const holder: Holder = { stream }
  return { stream: new Proxy(holder, STAND_IN) as unknown as T, detach: () => { holder.stream = undefined } }
}

/** Installs the stand-in on the kad-dht service (before libp2p starts: kad-dht binds the handler when it registers its protocol). */
export function patchKadDhtInbound (service: unknown): void {
  const rpc = checkKadDhtRpc(service)
  const original = rpc.onIncomingStream
  rpc.onIncomingStream = async function (this: unknown, stream: object, connection: unknown): Promise<void> {
    const standIn = detachable(stream)
    try {
      await original.call(this, standIn.stream, connection)
    } finally {
      standIn.detach()
    }
  }
}
