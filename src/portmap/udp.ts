/**
 * One UDP request/response exchange with the gateway, retransmitted on a schedule, as
 * NAT-PMP (RFC 6886 §3.1) and PCP (RFC 6887 §8.1.1) clients do.
 */
import { createSocket } from 'node:dgram'
import { isIPv6 } from 'node:net'
import { GatewayTimeoutError } from './errors.js'
import { PCP_MAX_MESSAGE_BYTES } from './constants.js'
import type { AbortOptions } from '@libp2p/interface'

export interface UdpExchange<T> {
  response: T
  /** our address on the path to the gateway (what the gateway sees as the client) */
  localAddress: string
}

/**
 * Sends `request` to host:port at each offset of the schedule's doubling intervals until
 * `accept` returns a value for a reply; rejects with GatewayTimeoutError once the last
 * interval passes. The socket is connected, so only the gateway's replies arrive.
 */
export async function udpExchange<T> (host: string, port: number, request: Uint8Array | ((localAddress: string) => Uint8Array),
  accept: (reply: Uint8Array) => T | undefined, schedule: number[], options: AbortOptions = {}): Promise<UdpExchange<T>> {
  options.signal?.throwIfAborted()
  const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4')
  let timer: ReturnType<typeof setTimeout> | undefined
  let onAbort: (() => void) | undefined
  try {
    return await new Promise<UdpExchange<T>>((resolve, reject) => {
      let localAddress = ''
      let bytes: Uint8Array | undefined
      let attempt = 0
      const send = (): void => {
        if (attempt >= schedule.length) {
          reject(new GatewayTimeoutError(`no answer from ${host}:${port} within ${schedule.reduce((a, b) => a + b, 0)} ms`))
          return
        }
        const wait = schedule[attempt++] ?? 0
        if (bytes != null) socket.send(bytes, (err) => { if (err != null) reject(err) })
        timer = setTimeout(send, wait)
      }
      onAbort = () => { reject(options.signal?.reason ?? new Error('aborted')) }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      socket.on('error', reject)
      socket.on('message', (msg) => {
        if (msg.byteLength > PCP_MAX_MESSAGE_BYTES) return
        let value: T | undefined
        try {
          value = accept(new Uint8Array(msg))
        } catch (err) {
          reject(err)
          return
        }
        if (value !== undefined) resolve({ response: value, localAddress })
      })
      socket.connect(port, host, () => {
        localAddress = socket.address().address
        bytes = typeof request === 'function' ? request(localAddress) : request
        send()
      })
    })
  } finally {
    clearTimeout(timer)
    if (onAbort != null) options.signal?.removeEventListener('abort', onAbort)
    socket.close()
  }
}
