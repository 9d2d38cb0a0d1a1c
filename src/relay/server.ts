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
 * limits hop streams per connection only — and offers the hop protocol only while
 * `allow()` holds ('auto': only when publicly reachable), so private nodes do not
 * advertise a relay service they would refuse. Wraps the hop handler the stock server
 * registered at start. Reservation requests are hop streams too, so they count while
 * they last (a fraction of a second).
 */
export class RelayServiceGate {
  private readonly registrar: Registrar
  private readonly maxCircuits: number
  private readonly allow: () => boolean
  private registered?: { handler: StreamHandler, options: StreamHandlerOptions }
  private offered = true
  private open = 0

  constructor (registrar: Registrar, maxCircuits: number, allow: () => boolean) {
    this.registrar = registrar
    this.maxCircuits = maxCircuits
    this.allow = allow
  }

  /** Takes over the stock server's hop handler; call once, after libp2p started. */
  async start (): Promise<void> {
    try {
      this.registered = this.registrar.getHandler(RELAY_HOP_PROTOCOL)
    } catch {
      return
    }
    await this.registrar.unhandle(RELAY_HOP_PROTOCOL)
    this.offered = false
    await this.update()
  }

  /** Whether the hop protocol is offered right now. */
  get offering (): boolean {
    return this.registered != null && this.offered
  }

  /** Offers or withdraws the hop protocol to match `allow()`. */
  async update (): Promise<void> {
    if (this.registered == null) return
    const want = this.allow()
    if (want === this.offered) return
    this.offered = want
    if (want) {
      await this.registrar.handle(RELAY_HOP_PROTOCOL, this.handler, this.registered.options)
      log('relay service offered')
    } else {
      await this.registrar.unhandle(RELAY_HOP_PROTOCOL)
      log('relay service withdrawn while not publicly reachable')
    }
  }

  private readonly handler = async (stream: Stream, connection: Connection): Promise<void> => {
    if (this.registered == null) return
    if (this.open >= this.maxCircuits) {
      log('circuit limit %d reached: refusing a hop stream from %p', this.maxCircuits, connection.remotePeer)
      stream.abort(new Error('relay circuit limit reached'))
      return
    }
    this.open++
    stream.addEventListener('close', () => { this.open-- }, { once: true })
    await this.registered.handler(stream, connection)
  }
}
