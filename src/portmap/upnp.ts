/**
 * UPnP IGD v1/v2: SSDP discovery (M-SEARCH), the device description, and SOAP calls to the
 * WANIPConnection service: GetExternalIPAddress, AddPortMapping / AddAnyPortMapping (with a
 * lease), GetSpecificPortMappingEntry and DeletePortMapping.
 *
 * @see UPnP Device Architecture 1.1 §1 (SSDP), §2 (description), §3 (SOAP control)
 * @see UPnP IGD:2 WANIPConnection:2 Service §2.4
 */
import { createSocket } from 'node:dgram'
import { request as httpRequest } from 'node:http'
import { logger } from '@libp2p/logger'
import {
  MAPPING_DESCRIPTION, SSDP_ADDRESS, SSDP_MAX_ANSWER_BYTES, SSDP_MX_SECONDS, SSDP_PORT, SSDP_SEARCH_TARGETS, SSDP_TIMEOUT_MS, UPNP_BAD_PORTS,
  UPNP_CONFLICT_RETRIES, UPNP_ERR_CONFLICT, UPNP_ERR_NO_SUCH_ENTRY, UPNP_ERR_ONLY_PERMANENT_LEASES,
  UPNP_HTTP_TIMEOUT_MS, UPNP_MAX_BODY_BYTES, UPNP_WAN_SERVICES
} from './constants.js'
import { GatewayTimeoutError, MalformedResponseError, MappingRefusedError, NoGatewayError } from './errors.js'
import { childText, findAll, findFirst, parseXml, textOf } from './xml.js'
import type { GatewayState, MapRequest, MapResult, MappingClient } from './types.js'
import type { AbortOptions } from '@libp2p/interface'

const log = logger('burrow:portmap:upnp')

/** UDA 1.1 §1.3.2: an M-SEARCH request for one search target. */
export function encodeMSearch (searchTarget: string, mx = SSDP_MX_SECONDS): string {
  return [
    'M-SEARCH * HTTP/1.1',
    `HOST: ${SSDP_ADDRESS}:${SSDP_PORT}`,
    'MAN: "ssdp:discover"',
    `MX: ${mx}`,
    `ST: ${searchTarget}`,
    '', ''
  ].join('\r\n')
}

/** UDA 1.1 §1.3.3: the answer to an M-SEARCH is `HTTP/1.1 200 OK` with headers; names are case-insensitive. */
export function parseSsdpResponse (text: string): { st: string, location: string, usn: string } | undefined {
  const lines = text.split(/\r?\n/)
  if (!/^HTTP\/1\.[01] 200/i.test(lines[0] ?? '')) return undefined
  const headers = new Map<string, string>()
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':')
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim())
  }
  const location = headers.get('location')
  if (location == null || !/^https?:\/\//i.test(location)) return undefined
  return { st: headers.get('st') ?? '', location, usn: headers.get('usn') ?? '' }
}

export interface WanService {
  serviceType: string
  controlUrl: string
}

/**
 * Why an IGD URL (LOCATION, URLBase, controlURL) may not be fetched, or undefined when it may:
 * plain HTTP, no credentials, on `host` (the gateway), on a port that speaks HTTP. Anything
 * else would let a LAN device make us send GETs and SOAP POSTs elsewhere (request forgery).
 */
export function igdUrlProblem (url: string | URL, host: string): string | undefined {
  let u: URL
  try {
    u = typeof url === 'string' ? new URL(url) : url
  } catch {
    return `${String(url).slice(0, 100)} is not a URL`
  }
  if (u.protocol !== 'http:') return `${u.href} is not plain http`
  if (u.username !== '' || u.password !== '') return `${u.origin} carries credentials`
  if (u.hostname !== host) return `${u.href} is on ${u.hostname}, not on the gateway ${host}`
  const port = u.port === '' ? 80 : Number(u.port)
  if (UPNP_BAD_PORTS.has(port)) return `${u.href} names port ${port}, which does not speak HTTP`
  return undefined
}

/**
 * Whether an SSDP answer may be used: it came from the gateway and its LOCATION is on the
 * gateway (UDA 1.1 §1.3.3 says LOCATION is the device's own URL). Returns why not, or undefined.
 */
export function ssdpAnswerProblem (sender: string, location: string, gateway: string): string | undefined {
  if (sender !== gateway) return `answer from ${sender}, which is not the gateway ${gateway}`
  return igdUrlProblem(location, gateway)
}

function escapeXml (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/**
 * UDA 1.1 §2.3: the device description lists services (nested in devices); returns the WAN
 * connection services that map ports, best first, with control URLs made absolute (against
 * URLBase if present, else the description's own URL). Every URL must stay on `host` (the
 * gateway, by default the description's own host): a URLBase elsewhere rejects the whole
 * description, a controlURL elsewhere drops that service; both are logged.
 */
export function parseDescription (xml: string, location: string, host = new URL(location).hostname): WanService[] {
  const doc = parseXml(xml)
  const urlBase = textOf(doc, 'URLBase')
  const base = urlBase != null && urlBase !== '' ? urlBase : location
  const baseProblem = igdUrlProblem(base, host)
  if (baseProblem != null) throw new MalformedResponseError(`${location}: URLBase ignored: ${baseProblem}`)
  const found: WanService[] = []
  for (const service of findAll(doc, 'service')) {
    // a service's own children (UDA 1.1 §2.3): a hostile description that nests <service>
    // elements (up to the depth cap) must not make each enclosing one repeat the innermost's
    // control URL, which would hold ~32 copies of it (the fuzz pass found it)
    const serviceType = childText(service, 'serviceType')
    const control = childText(service, 'controlURL')
    if (serviceType == null || control == null || !UPNP_WAN_SERVICES.includes(serviceType)) continue
    let controlUrl: URL
    try {
      controlUrl = new URL(control, base)
    } catch {
      log('%s: %s ignored: controlURL %s is not a URL', location, serviceType, control.slice(0, 100))
      continue
    }
    const problem = igdUrlProblem(controlUrl, host)
    if (problem != null) {
      log('%s: %s ignored: controlURL %s', location, serviceType, problem)
      continue
    }
    found.push({ serviceType, controlUrl: controlUrl.toString() })
  }
  return found.sort((a, b) => UPNP_WAN_SERVICES.indexOf(a.serviceType) - UPNP_WAN_SERVICES.indexOf(b.serviceType))
}

/** UDA 1.1 §3.2.1: a SOAP envelope for one action. */
export function encodeSoapRequest (serviceType: string, action: string, args: Array<[string, string | number]>): string {
  const body = args.map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`).join('')
  return '<?xml version="1.0"?>\r\n' +
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
    `<s:Body><u:${action} xmlns:u="${serviceType}">${body}</u:${action}></s:Body></s:Envelope>`
}

/** UDA 1.1 §3.2.2: values of an action's response, or the UPnPError of a fault (HTTP 500). */
export function parseSoapResponse (status: number, xml: string, action: string, names: string[]): Record<string, string> {
  const doc = parseXml(xml)
  if (status !== 200) {
    const code = Number(textOf(doc, 'errorCode') ?? NaN)
    const description = (textOf(doc, 'errorDescription') ?? `HTTP ${status}`).slice(0, 200)
    throw new MappingRefusedError(`UPnP ${action}: ${Number.isFinite(code) ? `${code} ` : ''}${description}`, Number.isFinite(code) ? code : status)
  }
  const response = findFirst(doc, `${action}Response`)
  if (response == null) throw new MalformedResponseError(`UPnP ${action}: no ${action}Response in the answer`)
  const out: Record<string, string> = {}
  for (const n of names) out[n] = textOf(response, n) ?? ''
  return out
}

interface HttpAnswer { status: number, body: string, localAddress: string }

async function httpCall (url: string, init: { method: string, headers?: Record<string, string>, body?: string }, options: AbortOptions): Promise<HttpAnswer> {
  const signal = options.signal != null ? AbortSignal.any([options.signal, AbortSignal.timeout(UPNP_HTTP_TIMEOUT_MS)]) : AbortSignal.timeout(UPNP_HTTP_TIMEOUT_MS)
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method, headers: { ...init.headers, connection: 'close' }, signal }, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      const declared = Number(res.headers['content-length'] ?? 0)
      if (declared > UPNP_MAX_BODY_BYTES) {
        req.destroy(new MalformedResponseError(`answer from ${url} is over ${UPNP_MAX_BODY_BYTES} bytes (Content-Length ${declared})`))
        return
      }
      res.on('data', (c: Buffer) => {
        size += c.byteLength
        if (size > UPNP_MAX_BODY_BYTES) {
          req.destroy(new MalformedResponseError(`answer from ${url} is over ${UPNP_MAX_BODY_BYTES} bytes`))
          return
        }
        chunks.push(c)
      })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), localAddress: req.socket?.localAddress ?? '' }) })
      res.on('error', reject)
    })
    req.on('error', (err) => {
      reject(signal.aborted && options.signal?.aborted !== true ? new GatewayTimeoutError(`no answer from ${url} within ${UPNP_HTTP_TIMEOUT_MS} ms`, { cause: err }) : err)
    })
    req.end(init.body)
  })
}

/**
 * UDA 1.1 §1.3.2: multicasts M-SEARCH for the IGD types and collects LOCATION headers of the
 * answers from `gateway` whose LOCATION is on the gateway (ssdpAnswerProblem); every other
 * answer is dropped with a debug line saying why. Resolves shortly after the first usable
 * answer (or with none at the timeout).
 */
export async function ssdpSearch (options: AbortOptions & { gateway: string, timeoutMs?: number, target?: { address: string, port: number } }): Promise<string[]> {
  const socket = createSocket({ type: 'udp4', reuseAddr: true })
  const locations = new Set<string>()
  let timer: ReturnType<typeof setTimeout> | undefined
  let onAbort: (() => void) | undefined
  try {
    await new Promise<void>((resolve, reject) => {
      const finish = (): void => { resolve() }
      onAbort = () => { reject(options.signal?.reason ?? new Error('aborted')) }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      timer = setTimeout(finish, options.timeoutMs ?? SSDP_TIMEOUT_MS)
      socket.on('error', reject)
      socket.on('message', (msg, rinfo) => {
        // an answer is one datagram of headers; anything larger is not an SSDP answer
        if (msg.byteLength > SSDP_MAX_ANSWER_BYTES) { log('ignored SSDP answer from %s: %d bytes', rinfo.address, msg.byteLength); return }
        const r = parseSsdpResponse(msg.toString('utf8'))
        if (r == null) return
        const problem = ssdpAnswerProblem(rinfo.address, r.location, options.gateway)
        if (problem != null) { log('ignored SSDP answer: %s', problem); return }
        const first = locations.size === 0
        locations.add(r.location)
        // other IGDs on the LAN answer at about the same time; wait a moment for them
        if (first) { clearTimeout(timer); timer = setTimeout(finish, 100) }
      })
      socket.bind(0, () => {
        for (const st of SSDP_SEARCH_TARGETS) {
          socket.send(encodeMSearch(st), options.target?.port ?? SSDP_PORT, options.target?.address ?? SSDP_ADDRESS, (err) => { if (err != null) log('M-SEARCH send failed - %e', err) })
        }
      })
    })
  } finally {
    clearTimeout(timer)
    if (onAbort != null) options.signal?.removeEventListener('abort', onAbort)
    socket.close()
  }
  return [...locations]
}

/** A UPnP IGD client for one WAN connection service. */
export class UpnpClient implements MappingClient {
  readonly protocol = 'upnp' as const
  /** the description URL */
  readonly gateway: string
  readonly service: WanService
  private readonly permanentOnly = { value: false }

  constructor (location: string, service: WanService) {
    this.gateway = location
    this.service = service
  }

  /**
   * Finds an IGD by SSDP (or at `location`) and picks its best WAN connection service. Only
   * the gateway is trusted: `gateway` (the default route's, or the configured one) or, for a
   * location given by the user, that location's host. Every URL used must stay on it.
   */
  static async discover (options: AbortOptions & { location?: string, gateway?: string, timeoutMs?: number, target?: { address: string, port: number } } = {}): Promise<UpnpClient> {
    let locations: string[]
    let host: string
    if (options.location != null) {
      host = options.gateway ?? new URL(options.location).hostname
      const problem = igdUrlProblem(options.location, host)
      if (problem != null) throw new MalformedResponseError(`UPnP location ${problem}`)
      locations = [options.location]
    } else {
      if (options.gateway == null) throw new NoGatewayError('no default gateway: UPnP answers are taken only from the gateway; set portMappingGateway')
      host = options.gateway
      locations = await ssdpSearch({ ...options, gateway: host })
    }
    if (locations.length === 0) throw new GatewayTimeoutError(`no UPnP IGD answered the SSDP search from the gateway ${host}`)
    let lastError: unknown
    for (const location of locations) {
      try {
        const answer = await httpCall(location, { method: 'GET' }, options)
        if (answer.status !== 200) throw new MalformedResponseError(`${location}: HTTP ${answer.status}`)
        const service = parseDescription(answer.body, location, host)[0]
        if (service == null) throw new MalformedResponseError(`${location} offers no WANIPConnection service on the gateway ${host}`)
        log('IGD at %s: %s on %s', location, service.serviceType, service.controlUrl)
        return new UpnpClient(location, service)
      } catch (err) {
        log('IGD at %s not used - %e', location, err)
        lastError = err
      }
    }
    throw lastError instanceof Error ? lastError : new MalformedResponseError('no usable IGD')
  }

  private async soap (action: string, args: Array<[string, string | number]>, names: string[], options: AbortOptions): Promise<Record<string, string> & { localAddress: string }> {
    const answer = await httpCall(this.service.controlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'text/xml; charset="utf-8"',
        soapaction: `"${this.service.serviceType}#${action}"`
      },
      body: encodeSoapRequest(this.service.serviceType, action, args)
    }, options)
    return { ...parseSoapResponse(answer.status, answer.body, action, names), localAddress: answer.localAddress }
  }

  async externalIp (options: AbortOptions = {}): Promise<{ externalIp: string, localAddress: string }> {
    const r = await this.soap('GetExternalIPAddress', [], ['NewExternalIPAddress'], options)
    return { externalIp: r.NewExternalIPAddress ?? '', localAddress: r.localAddress }
  }

  async map (request: MapRequest, options: AbortOptions = {}): Promise<MapResult> {
    const { externalIp, localAddress } = await this.externalIp(options)
    const proto = request.protocol.toUpperCase()
    const lease = (): number => this.permanentOnly.value ? 0 : request.lifetimeSeconds
    const args = (externalPort: number): Array<[string, string | number]> => [
      ['NewRemoteHost', ''], ['NewExternalPort', externalPort], ['NewProtocol', proto], ['NewInternalPort', request.internalPort],
      ['NewInternalClient', localAddress], ['NewEnabled', 1], ['NewPortMappingDescription', MAPPING_DESCRIPTION], ['NewLeaseDuration', lease()]
    ]
    let externalPort = request.suggestedExternalPort
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.service.serviceType.endsWith(':2')) {
          // IGD:2 §2.4.18: AddAnyPortMapping picks a free port when ours is taken
          const r = await this.soap('AddAnyPortMapping', args(externalPort), ['NewReservedPort'], options)
          const reserved = r.NewReservedPort === '' || r.NewReservedPort == null ? externalPort : Number(r.NewReservedPort)
          if (!Number.isInteger(reserved) || reserved < 1 || reserved > 65535) throw new MalformedResponseError(`UPnP AddAnyPortMapping: reserved port ${String(r.NewReservedPort).slice(0, 20)} is not a port`)
          externalPort = reserved
        } else {
          await this.soap('AddPortMapping', args(externalPort), [], options)
        }
        break
      } catch (err) {
        const code = (err as MappingRefusedError).resultCode
        if (code === UPNP_ERR_ONLY_PERMANENT_LEASES && !this.permanentOnly.value) {
          // IGD v1 routers that only do permanent leases: map without one, delete on stop
          this.permanentOnly.value = true
          continue
        }
        if (code === UPNP_ERR_CONFLICT && attempt < UPNP_CONFLICT_RETRIES) {
          externalPort = 1024 + Math.floor(Math.random() * (65535 - 1024))
          continue
        }
        throw err
      }
    }
    log('mapped %s %s:%d -> %s:%d, lease %d s', request.protocol, localAddress, request.internalPort, externalIp, externalPort, lease())
    return { protocol: request.protocol, internalIp: localAddress, internalPort: request.internalPort, externalIp, externalPort, lifetimeSeconds: lease() }
  }

  async unmap (mapping: MapResult, options: AbortOptions = {}): Promise<void> {
    await this.soap('DeletePortMapping', [['NewRemoteHost', ''], ['NewExternalPort', mapping.externalPort], ['NewProtocol', mapping.protocol.toUpperCase()]], [], options)
    log('deleted %s mapping of external port %d', mapping.protocol, mapping.externalPort)
  }

  /** The external address, and whether each of our mappings still exists (a rebooted router forgets them). */
  async check (mappings: MapResult[], options: AbortOptions = {}): Promise<GatewayState> {
    const { externalIp } = await this.externalIp(options)
    let lostState = false
    for (const m of mappings) {
      try {
        const r = await this.soap('GetSpecificPortMappingEntry', [['NewRemoteHost', ''], ['NewExternalPort', m.externalPort], ['NewProtocol', m.protocol.toUpperCase()]],
          ['NewInternalPort', 'NewInternalClient'], options)
        if (Number(r.NewInternalPort) !== m.internalPort || r.NewInternalClient !== m.internalIp) lostState = true
      } catch (err) {
        if ((err as MappingRefusedError).resultCode !== UPNP_ERR_NO_SUCH_ENTRY) throw err
        lostState = true
      }
    }
    return { externalIp, lostState }
  }
}
