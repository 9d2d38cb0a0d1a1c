/**
 * The UDX socket's public address and the NAT's UDP mapping behaviour, from STUN Binding
 * requests (RFC 8489) sent on that same socket to 2+ sources (a UDP mapping can differ from
 * TCP's): burrow relays (they run a STUN server) and configured STUN servers.
 * - the same public IP:port from servers at two IPs: endpoint-independent (RFC 4787 §4.1);
 * - different ports (or IPs): endpoint-dependent;
 * - fewer than two servers at distinct IPs answered: unknown, with why.
 */
import { lookup } from 'node:dns/promises'
import { isIPv4 } from 'node:net'
import { encodeBindingRequest, mappedAddressOf, parseHeader, PADDED_REQUEST_BYTES, parseStunUrl } from '../stun/index.js'
import { STUN_RESEND_MS, STUN_TIMEOUT_MS, MAX_STUN_SOURCES } from './constants.js'
import type { DatagramDemux } from './demux.js'
import type { UDXSocket } from 'udx-native'

export type UdpMapping = 'endpoint-independent' | 'endpoint-dependent' | 'unknown'

export interface StunSourceResult {
  /** as configured: HOST:PORT or stun:HOST:PORT */
  server: string
  /** the address asked (after DNS) */
  address?: string
  /** our public address as this server saw it */
  mapped?: string
  error?: string
}

export interface UdpMappingReport {
  mapping: UdpMapping
  /** one line: why this verdict */
  reason: string
  /** our public UDX address (IP:port) when a source answered */
  publicAddress?: { host: string, port: number }
  sources: StunSourceResult[]
  checkedAt: string
}

/** Sends Binding requests to one server through the socket until answered (resends per RFC 8489, cut short). */
async function bindingOn (socket: UDXSocket, demux: DatagramDemux, host: string, port: number, signal?: AbortSignal): Promise<{ host: string, port: number }> {
  const request = encodeBindingRequest(undefined, PADDED_REQUEST_BYTES)
  const txid = Buffer.from(request.subarray(8, 20))
  const timers: NodeJS.Timeout[] = []
  let off = (): void => {}
  let onAbort = (): void => {}
  try {
    return await new Promise((resolve, reject) => {
      off = demux.on('STUN', (buf, from) => {
        if (from.host !== host || from.port !== port) return
        const header = parseHeader(buf)
        if (header == null || !Buffer.from(header.transactionId).equals(txid)) return
        const mapped = mappedAddressOf(buf)
        if (mapped == null) reject(new Error('a STUN answer without a mapped address'))
        else resolve({ host: mapped.address, port: mapped.port })
      })
      const send = (): void => { try { socket.trySend(request, port, host) } catch (err) { reject(err as Error) } }
      send()
      for (const at of STUN_RESEND_MS) timers.push(setTimeout(send, at))
      timers.push(setTimeout(() => { reject(new Error(`no answer within ${STUN_TIMEOUT_MS} ms`)) }, STUN_TIMEOUT_MS))
      onAbort = () => { reject(new Error('aborted')) }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  } finally {
    off()
    timers.forEach(t => { clearTimeout(t) })
    signal?.removeEventListener('abort', onAbort)
  }
}

/** The verdict from the sources' answers. */
export function verdictOf (sources: StunSourceResult[]): { mapping: UdpMapping, reason: string, publicAddress?: { host: string, port: number } } {
  const answered = sources.filter(s => s.mapped != null && s.address != null)
  if (answered.length === 0) {
    return {
      mapping: 'unknown',
      reason: sources.length === 0
        ? 'no STUN source: no burrow relay answers STUN and udp.stunServers is empty; set udp.stunServers (HOST:PORT)'
        : `no STUN source answered (${sources.length} asked): UDP may be blocked; check the firewall or set udp.stunServers`
    }
  }
  const first = answered[0]!
  const [host, port] = splitHostPort(first.mapped!)
  const publicAddress = { host, port }
  const byIp = new Map<string, string>()
  for (const s of answered) byIp.set(s.address!, s.mapped!)
  if (byIp.size < 2) {
    // one server IP at two ports: different public ports prove an endpoint-dependent mapping
    // (the same port proves little: a NAT may map by destination address only)
    const seenHere = new Set(answered.map(s => s.mapped!))
    if (answered.length >= 2 && seenHere.size > 1) {
      return { mapping: 'endpoint-dependent', reason: `one STUN server at ${answered.length} ports saw different public addresses (${[...seenHere].join(', ')}): the NAT maps each destination to a new port`, publicAddress }
    }
    return { mapping: 'unknown', reason: `only one STUN source IP answered (${first.server}): two at different IPs are needed to tell the NAT's UDP mapping`, publicAddress }
  }
  const seen = new Set(byIp.values())
  if (seen.size === 1) return { mapping: 'endpoint-independent', reason: `${byIp.size} STUN sources at different IPs saw the same public address ${first.mapped}`, publicAddress }
  return { mapping: 'endpoint-dependent', reason: `STUN sources at different IPs saw different public addresses (${[...seen].join(', ')}): the NAT maps each destination to a new port`, publicAddress }
}

function splitHostPort (s: string): [string, number] {
  const i = s.lastIndexOf(':')
  return [s.slice(0, i), Number(s.slice(i + 1))]
}

/** Asks every source (at most MAX_STUN_SOURCES) at once through the socket and gives the verdict. */
export async function checkUdpMapping (socket: UDXSocket, demux: DatagramDemux, servers: string[], options: { signal?: AbortSignal } = {}): Promise<UdpMappingReport> {
  const list = [...new Set(servers)].slice(0, MAX_STUN_SOURCES)
  const sources = await Promise.all(list.map(async (server): Promise<StunSourceResult> => {
    const out: StunSourceResult = { server }
    try {
      const { host, port } = parseStunUrl(server)
      const address = isIPv4(host) ? host : (await lookup(host, { family: 4 })).address
      out.address = address
      const mapped = await bindingOn(socket, demux, address, port, options.signal)
      out.mapped = `${mapped.host}:${mapped.port}`
    } catch (err) {
      out.error = (err as Error).message.split('\n')[0]?.slice(0, 200)
    }
    return out
  }))
  return { ...verdictOf(sources), sources, checkedAt: new Date().toISOString() }
}
