import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { logger } from '@libp2p/logger'
import { RELAY_HOP_PROTOCOL } from './constants.js'
import type { BurrowConfig } from '../config/index.js'
import type { Connection, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { Registrar } from '@libp2p/interface-internal'

const log = logger('burrow:relay:server')

/**
 * The stock circuit relay v2 server with burrow's explicit limits.
 *
 * Unit fix: @libp2p/circuit-relay-v2 keeps the circuit duration in milliseconds
 * (it enforces it with AbortSignal.timeout) and writes that same number into the
 * `Limit.duration` field, which the spec defines in seconds — a 2-minute limit
 * reached clients as 120000 seconds. We keep milliseconds for enforcement and
 * convert to seconds where the Limit message is encoded (see patchLimitEncoding).
 */
export function relayServer (config: BurrowConfig): ReturnType<typeof circuitRelayServer> {
  return circuitRelayServer({
    maxInboundHopStreams: Math.max(4, config.relay.maxCircuits),
    reservations: {
      maxReservations: config.relay.maxReservations,
      reservationTtl: config.relay.reservationTtlSeconds * 1000,
      applyDefaultLimit: true,
      defaultDurationLimit: config.relay.circuitSeconds * 1000,
      defaultDataLimit: BigInt(config.relay.circuitBytes)
    }
  })
}

interface LimitCodec { encode: (obj: { duration?: number, data?: bigint }, w: unknown, opts?: unknown) => void }
let patched = false

/**
 * Makes the relay's Limit message carry seconds, as libp2p/specs relay/circuit-v2.md
 * says. The module is reached by its file URL (the package exports only its root).
 */
export async function patchLimitEncoding (): Promise<void> {
  if (patched) return
  patched = true
  try {
    const pbUrl = new URL('./pb/index.js', import.meta.resolve('@libp2p/circuit-relay-v2'))
    const pb = await import(pbUrl.href) as { Limit: { codec: () => LimitCodec } }
    const codec = pb.Limit.codec()
    const encode = codec.encode.bind(codec)
    codec.encode = (obj, w, opts) => {
      const duration = obj.duration != null && obj.duration >= 1000 ? Math.ceil(obj.duration / 1000) : obj.duration
      encode({ ...obj, duration }, w, opts)
    }
  } catch (err) {
    log.error('could not fix the relay Limit duration unit - %e', err)
  }
}

/**
 * Caps the circuits (hop streams) open at once over all peers — the stock server
 * limits hop streams per connection only — and lets relay service be switched off
 * while `allow()` is false ('auto': only when publicly reachable). Wraps the hop
 * handler the server registered, after it started. Reservation requests are hop
 * streams too, so they count while they last (a fraction of a second).
 */
export async function capCircuits (registrar: Registrar, maxCircuits: number, allow: () => boolean = () => true): Promise<void> {
  let registered: { handler: StreamHandler, options: StreamHandlerOptions }
  try {
    registered = registrar.getHandler(RELAY_HOP_PROTOCOL)
  } catch {
    return
  }
  let open = 0
  const wrapped = async (stream: Stream, connection: Connection): Promise<void> => {
    if (!allow()) {
      log('relay service is off while not publicly reachable: refusing a hop stream from %p', connection.remotePeer)
      stream.abort(new Error('relay service off'))
      return
    }
    if (open >= maxCircuits) {
      log('circuit limit %d reached: refusing a hop stream from %p', maxCircuits, connection.remotePeer)
      stream.abort(new Error('relay circuit limit reached'))
      return
    }
    open++
    const done = (): void => { open-- }
    stream.addEventListener('close', done, { once: true })
    await registered.handler(stream, connection)
  }
  await registrar.unhandle(RELAY_HOP_PROTOCOL)
  await registrar.handle(RELAY_HOP_PROTOCOL, wrapped, registered.options)
}
