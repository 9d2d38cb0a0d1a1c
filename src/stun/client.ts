/**
 * The client side: which STUN servers a node uses (its bootstrap/relay peers' IPs at
 * the STUN port, unless configured), and a plain Binding request for diagnostics and tests.
 */
import { createSocket } from 'node:dgram'
import { isIPv6 } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { encodeBindingRequest, mappedAddressOf, parseHeader } from './codec.js'
import type { StunAddress } from './codec.js'

/**
 * `stun:HOST:PORT` URLs for the hosts of the given multiaddrs (ip4, ip6, dns, dns4, dns6),
 * deduplicated, in order. Unparsable addresses, ones without a host and IPv6 hosts are skipped.
 */
export function stunServersFor (peers: string[], port: number): string[] {
  const out = new Set<string>()
  for (const p of peers) {
    let host: string | undefined
    try {
      host = multiaddr(p).getComponents().find(c => ['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(c.name))?.value
    } catch {
      continue
    }
    // IPv6 hosts are left out: node-datachannel rejects `stun:[v6]:port` (and so every ICE start)
    if (host == null || host === '' || isIPv6(host)) continue
    out.add(`stun:${host}:${port}`)
  }
  return [...out]
}

/** Splits `stun:HOST:PORT` (or `HOST:PORT`, `[v6]:PORT`, `HOST`) into host and port. */
export function parseStunUrl (url: string, defaultPort = 3478): { host: string, port: number } {
  const rest = url.replace(/^stuns?:/, '').replace(/^\/\//, '').replace(/\?.*$/, '')
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest)
  if (v6 != null) return { host: v6[1] ?? '', port: v6[2] != null ? Number(v6[2]) : defaultPort }
  const m = /^([^:]+)(?::(\d+))?$/.exec(rest)
  if (m == null) throw new RangeError(`not a STUN server: ${url}`)
  return { host: m[1] ?? '', port: m[2] != null ? Number(m[2]) : defaultPort }
}

/**
 * Size burrow pads its own Binding requests to: above the largest full response of its
 * server (92 bytes over IPv6 with SOFTWARE 'burrow x.y.z'), so that server answers in
 * full and outside its rate limit (src/stun/server.ts).
 */
export const PADDED_REQUEST_BYTES = 128

/** Sends one (padded) Binding request and resolves with the mapped address the server saw. */
export async function stunBinding (server: { host: string, port: number }, options: { timeoutMs?: number, localPort?: number } = {}): Promise<StunAddress> {
  const socket = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4')
  const request = encodeBindingRequest(undefined, PADDED_REQUEST_BYTES)
  const txid = request.subarray(8, 20)
  try {
    return await new Promise<StunAddress>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no STUN answer from ${server.host}:${server.port} within ${options.timeoutMs ?? 3000} ms`)) }, options.timeoutMs ?? 3000)
      socket.on('error', err => { clearTimeout(timer); reject(err) })
      socket.on('message', msg => {
        const header = parseHeader(msg)
        if (header == null || !header.transactionId.every((b, i) => b === txid[i])) return
        const mapped = mappedAddressOf(msg)
        clearTimeout(timer)
        if (mapped == null) reject(new Error('STUN answer without a mapped address'))
        else resolve(mapped)
      })
      socket.bind(options.localPort ?? 0, () => {
        socket.send(request, server.port, server.host)
      })
    })
  } finally {
    socket.close()
  }
}
