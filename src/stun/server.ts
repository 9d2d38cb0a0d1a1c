/**
 * A STUN server (RFC 5389 Binding only) that burrow's relay/bootstrap nodes run, so the
 * peers holding reservations on them learn their public UDP address (the server-reflexive
 * ICE candidate WebRTC needs to punch through a NAT) without any public STUN host.
 *
 * Stateless: every valid Binding request gets one response of about its own size
 * (no amplification); anything else is dropped.
 */
import { createSocket } from 'node:dgram'
import { logger } from '@libp2p/logger'
import { BINDING_REQUEST, encodeBindingResponse, fingerprintOk, parseHeader } from './codec.js'
import type { Socket } from 'node:dgram'

const log = logger('burrow:stun')

/** The registered STUN port (RFC 5389 §18.4). */
export const DEFAULT_STUN_PORT = 3478

export interface StunServerInit {
  /** UDP port; 0 picks a free one; default 3478 */
  port?: number
  /** addresses to bind; default 0.0.0.0 and :: (the IPv6 socket is optional) */
  hosts?: string[]
  /** SOFTWARE attribute; default none */
  software?: string
}

export interface StunServerStatus {
  listening: Array<{ address: string, port: number }>
  /** Binding requests answered since start */
  answered: number
  /** why a socket could not be bound, if one could not */
  error: string | null
}

export class StunServer {
  private readonly init: StunServerInit
  private readonly sockets: Socket[] = []
  private answered = 0
  private error: string | null = null

  constructor (init: StunServerInit = {}) {
    this.init = init
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
    if (errors.length > 0) log('STUN server: some sockets not bound: %s', errors.join('; '))
  }

  async stop (): Promise<void> {
    await Promise.all(this.sockets.splice(0).map(async s => { await new Promise<void>(resolve => { s.close(() => { resolve() }) }) }))
  }

  status (): StunServerStatus {
    return {
      listening: this.sockets.map(s => {
        const a = s.address()
        return { address: a.address, port: a.port }
      }),
      answered: this.answered,
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
        socket.on('error', err => { log('STUN socket %s error - %e', host, err) })
        resolve()
      })
    })
    log('STUN server on %s:%d', host, socket.address().port)
    return socket
  }

  private onMessage (socket: Socket, msg: Buffer, address: string, port: number): void {
    const header = parseHeader(msg)
    if (header?.type !== BINDING_REQUEST || !fingerprintOk(msg)) return
    // the response goes to the address the request came from: what the client's NAT mapped it to
    const response = encodeBindingResponse(header.transactionId, { address, port }, this.init.software)
    socket.send(response, port, address, err => {
      if (err != null) log('STUN response to %s:%d failed - %e', address, port, err)
    })
    this.answered++
  }
}
