/**
 * A STUN server (RFC 5389 Binding only) that burrow's relay/bootstrap nodes run, so the
 * peers holding reservations on them learn their public UDP address (the server-reflexive
 * ICE candidate WebRTC needs to punch through a NAT) without any public STUN host.
 *
 * Not a reflector. UDP sources can be forged, so a server that answers a 20-byte request
 * with 68 bytes (92 over IPv6) multiplies whatever a forger sends at a victim. Each valid
 * Binding request therefore gets:
 * 1. the full response (XOR-MAPPED-ADDRESS, MAPPED-ADDRESS, SOFTWARE, FINGERPRINT) when
 *    the request is at least as large: a padded request (burrow's client pads with
 *    SOFTWARE, cf. RFC 5780 §7.6 PADDING) is answered with no more bytes than it carried;
 * 2. else the compact response (XOR-MAPPED-ADDRESS, the one attribute RFC 8489 §14.2
 *    clients read; FINGERPRINT only when the request had one) when that fits;
 * 3. else (a bare request: a header, perhaps FINGERPRINT, as ICE agents send) the
 *    compact response within a token bucket per source IP (IPv6: per /64) and one for
 *    the whole server, so a forged flood reflects at most a few small datagrams per second
 *    to any one victim and a bounded rate in all; the excess is dropped, which to a client
 *    looks like loss: it retransmits (RFC 8489 §6.2.1).
 * Anything that is not a Binding request is dropped. Only relays run it (see node.ts).
 */
import { createSocket } from 'node:dgram'
import { isIPv4 } from 'node:net'
import { logger } from '@libp2p/logger'
import { BINDING_REQUEST, encodeBindingResponse, fingerprintOk, hasFingerprint, ipv6Bytes, parseHeader } from './codec.js'
import type { Socket } from 'node:dgram'
import type { Logger } from '@libp2p/interface'

/** The registered STUN port (RFC 5389 §18.4). */
export const DEFAULT_STUN_PORT = 3478

/**
 * Unpadded (amplifying) answers one source IP may get: a burst of 8, then 4 a second.
 * An ICE agent sends one request per server and gathering, retransmitted at 500 ms,
 * 1 s, 2 s... (RFC 8489 §6.2.1), so a household of nodes stays well inside it.
 */
export const DEFAULT_PER_IP_BURST = 8
export const DEFAULT_PER_IP_PER_SECOND = 4
/**
 * Unpadded answers the server sends in all, per second (and burst): with compact answers
 * of at most 52 bytes, a forged flood from any number of sources reflects under 21 kB/s.
 */
export const DEFAULT_TOTAL_PER_SECOND = 400
/** Source IPs whose buckets are remembered; the least recently seen is forgotten first. */
export const DEFAULT_MAX_TRACKED_SOURCES = 4096

export interface StunServerInit {
  /** UDP port; 0 picks a free one; default 3478 */
  port?: number
  /**
   * a second port answered on the same hosts (RFC 5780's alternate port, without CHANGE-REQUEST):
   * a client that asks both sees whether its NAT gives each destination a new public port, with
   * one server IP (src/udx/stun.ts); not bound: only a log line
   */
  alternatePort?: number
  /** addresses to bind; default 0.0.0.0 and :: (the IPv6 socket is optional) */
  hosts?: string[]
  /** SOFTWARE attribute; default none */
  software?: string
  /** unpadded answers per source IP: burst, then per second (default 8, 4) */
  perIpBurst?: number
  perIpPerSecond?: number
  /** unpadded answers in all, per second (and burst); default 400 */
  totalPerSecond?: number
  /** source IPs tracked at once; default 4096 */
  maxTrackedSources?: number
  /** where the server logs: the STUN service's component logger; default `burrow:stun` from @libp2p/logger (the lab has no libp2p) */
  log?: Logger
}

/** A token bucket: `burst` tokens, refilled at `perSecond`. */
interface Bucket { tokens: number, at: number }

function take (b: Bucket, burst: number, perSecond: number, now: number): boolean {
  b.tokens = Math.min(burst, b.tokens + (now - b.at) / 1000 * perSecond)
  b.at = now
  if (b.tokens < 1) return false
  b.tokens -= 1
  return true
}

/** The rate-limit key of a source: an IPv4 address, or the /64 of an IPv6 one. */
export function sourceKey (address: string): string {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  if (isIPv4(v4)) return v4
  return Buffer.from(ipv6Bytes(address).subarray(0, 8)).toString('hex') + '::/64'
}

export interface StunServerStatus {
  listening: Array<{ address: string, port: number }>
  /** Binding requests answered since start */
  answered: number
  /** unpadded Binding requests dropped by the per-source or total rate limit */
  limited: number
  /** source IPs (IPv6: /64s) whose rate limit is remembered */
  sources: number
  /** why a socket could not be bound, if one could not */
  error: string | null
}

export class StunServer {
  private readonly init: StunServerInit
  private readonly sockets: Socket[] = []
  private answered = 0
  private limited = 0
  private error: string | null = null
  private readonly buckets = new Map<string, Bucket>()
  private total?: Bucket

  private readonly log: Logger

  constructor (init: StunServerInit = {}) {
    this.init = init
    this.log = init.log ?? logger('burrow:stun')
  }

  /**
   * Binds every host. Throws only when no socket could be bound at all (the reason is
   * also kept for `status()`); a missing IPv6 stack is not an error.
   */
  async start (): Promise<void> {
    const port = this.init.port ?? DEFAULT_STUN_PORT
    const hosts = this.init.hosts ?? ['0.0.0.0', '::']
    const errors: string[] = []
    for (const host of hosts) {
      try {
        this.sockets.push(await this.bind(host, port))
      } catch (err) {
        errors.push(`${host}:${port}: ${(err as Error).message}`)
      }
    }
    if (this.sockets.length === 0) {
      this.error = errors.join('; ')
      throw new Error(`STUN server could not listen: ${this.error}`)
    }
    const alt = this.init.alternatePort
    if (alt != null && alt > 0 && alt !== port) {
      for (const host of hosts) {
        try {
          this.sockets.push(await this.bind(host, alt))
        } catch (err) {
          errors.push(`${host}:${alt}: ${(err as Error).message}`)
        }
      }
    }
    if (errors.length > 0) this.log('STUN server: some sockets not bound: %s', errors.join('; '))
  }

  async stop (): Promise<void> {
    this.buckets.clear()
    await Promise.all(this.sockets.splice(0).map(async s => { await new Promise<void>(resolve => { s.close(() => { resolve() }) }) }))
  }

  status (): StunServerStatus {
    return {
      listening: this.sockets.map(s => {
        const a = s.address()
        return { address: a.address, port: a.port }
      }),
      answered: this.answered,
      limited: this.limited,
      sources: this.buckets.size,
      error: this.error
    }
  }

  /** The first bound port (useful with port 0). */
  get port (): number {
    return this.sockets[0]?.address().port ?? 0
  }

  private async bind (host: string, port: number): Promise<Socket> {
    const v6 = host.includes(':')
    const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 })
    socket.on('message', (msg, rinfo) => { this.onMessage(socket, msg, rinfo.address, rinfo.port) })
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => { socket.close(); reject(err) }
      socket.once('error', onError)
      socket.bind(port, host, () => {
        socket.off('error', onError)
        socket.on('error', err => { this.log('STUN socket %s error - %e', host, err) })
        resolve()
      })
    })
    this.log('STUN server on %s:%d', host, socket.address().port)
    return socket
  }

  private onMessage (socket: Socket, msg: Buffer, address: string, port: number): void {
    const header = parseHeader(msg)
    if (header?.type !== BINDING_REQUEST || !fingerprintOk(msg)) return
    // the response goes to the address the request came from: what the client's NAT mapped it to
    const mapped = { address, port }
    let response = encodeBindingResponse(header.transactionId, mapped, this.init.software)
    if (response.byteLength > msg.byteLength) {
      response = encodeBindingResponse(header.transactionId, mapped, undefined, { compact: true, fingerprint: hasFingerprint(msg) })
      if (response.byteLength > msg.byteLength && !this.admit(address)) {
        this.limited++
        return
      }
    }
    socket.send(response, port, address, err => {
      if (err != null) this.log('STUN response to %s:%d failed - %e', address, port, err)
    })
    this.answered++
  }

  /** Whether an answer larger than its request may go to `address` now (steps 3 above). */
  private admit (address: string): boolean {
    const now = Date.now()
    const total = this.init.totalPerSecond ?? DEFAULT_TOTAL_PER_SECOND
    this.total ??= { tokens: total, at: now }
    const key = sourceKey(address)
    const burst = this.init.perIpBurst ?? DEFAULT_PER_IP_BURST
    let bucket = this.buckets.get(key)
    if (bucket == null) {
      bucket = { tokens: burst, at: now }
      const max = this.init.maxTrackedSources ?? DEFAULT_MAX_TRACKED_SOURCES
      // Map order is insertion order and a seen source is re-inserted: the first is the stalest
      while (this.buckets.size >= max) {
        const oldest = this.buckets.keys().next().value
        if (oldest == null) break
        this.buckets.delete(oldest)
      }
    } else {
      this.buckets.delete(key)
    }
    this.buckets.set(key, bucket)
    if (!take(bucket, burst, this.init.perIpPerSecond ?? DEFAULT_PER_IP_PER_SECOND, now)) return false
    return take(this.total, total, total, now)
  }
}
