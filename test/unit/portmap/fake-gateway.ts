/**
 * A home router on loopback, in the test's own process, for driving the PortMapper without
 * root: NAT-PMP (RFC 6886) and PCP (RFC 6887) on one UDP socket, as real gateways serve them
 * on port 5351; SSDP on a UDP socket that answers M-SEARCH by unicast; the IGD description and
 * the WANIPConnection SOAP actions on an HTTP server. In the manner of Tailscale's
 * net/portmapper TestIGD: each protocol can be switched on or off, and the test can reboot
 * the router (epoch back to 0, mappings forgotten), change its external address, or make a
 * protocol fail (silence, an error code, a garbage answer).
 *
 * It speaks the wire formats itself (not through src/portmap's encoders), so a codec bug on
 * our side is not mirrored here.
 */
import { createSocket } from 'node:dgram'
import { createServer } from 'node:http'
import type { Socket, RemoteInfo } from 'node:dgram'
import type { Server, IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export type FakeProtocol = 'nat-pmp' | 'pcp' | 'upnp'

/**
 * How a protocol misbehaves: `silent` drops requests; `code` answers with that result code
 * (NAT-PMP/PCP) or UPnP error (a SOAP fault); `garbage` answers with a truncated datagram
 * (NAT-PMP/PCP) or a body that is not SOAP (UPnP).
 */
export type Failure = { kind: 'silent' } | { kind: 'code', code: number } | { kind: 'garbage' }

/** Which requests a failure applies to: every one, or only mapping requests (the gateway still tells its address). */
export type FailureScope = 'all' | 'map'

export interface FakeGatewayInit {
  /** which protocols the router speaks; default all three */
  protocols?: FakeProtocol[]
  externalIp?: string
  /** the longest lifetime granted (s); a request for more gets this */
  maxLifetimeSeconds?: number
  /** the UPnP WAN service version offered; default 1 (AddPortMapping), 2 adds AddAnyPortMapping */
  upnpVersion?: 1 | 2
  /** a UPnP router that only does permanent leases: a lease other than 0 gets error 725 */
  upnpPermanentOnly?: boolean
}

export interface FakeMapping {
  protocol: 'tcp' | 'udp'
  internalClient: string
  internalPort: number
  externalPort: number
  lifetimeSeconds: number
  /** who made it */
  via: FakeProtocol
}

const NATPMP_VERSION = 0
const PCP_VERSION = 2
const WAN = (v: number): string => `urn:schemas-upnp-org:service:WANIPConnection:${v}`

export class FakeGateway {
  externalIp: string
  readonly protocols: Set<FakeProtocol>
  readonly maxLifetimeSeconds: number
  readonly upnpVersion: 1 | 2
  readonly upnpPermanentOnly: boolean
  /** the mappings the router holds, by `${protocol}/${externalPort}` */
  readonly mappings = new Map<string, FakeMapping>()
  /** every request the router got, in order: `nat-pmp:map-tcp`, `pcp:announce`, `upnp:AddPortMapping`, `ssdp:M-SEARCH`, … */
  readonly requests: string[] = []
  private readonly failures = new Map<FakeProtocol, { failure: Failure, scope: FailureScope }>()
  /** our clock (ms) at which the epoch was 0: a reboot moves it to now */
  private epochStart = Date.now() - 3600_000
  private pxp: Socket | undefined
  private ssdp: Socket | undefined
  private http: Server | undefined

  constructor (init: FakeGatewayInit = {}) {
    this.externalIp = init.externalIp ?? '203.0.113.7'
    this.protocols = new Set(init.protocols ?? ['nat-pmp', 'pcp', 'upnp'])
    this.maxLifetimeSeconds = init.maxLifetimeSeconds ?? 7200
    this.upnpVersion = init.upnpVersion ?? 1
    this.upnpPermanentOnly = init.upnpPermanentOnly ?? false
  }

  async start (): Promise<void> {
    this.pxp = await udp((msg, rinfo) => { this.onPxp(msg, rinfo) })
    this.ssdp = await udp((msg, rinfo) => { this.onSsdp(msg, rinfo) })
    const http = createServer((req, res) => { this.onHttp(req, res) })
    this.http = http
    await new Promise<void>((resolve, reject) => { http.once('error', reject); http.listen(0, '127.0.0.1', resolve) })
  }

  async close (): Promise<void> {
    this.pxp?.close()
    this.ssdp?.close()
    this.http?.closeAllConnections()
    await new Promise<void>(resolve => { if (this.http == null) resolve(); else this.http.close(() => { resolve() }) })
  }

  /** the gateway's NAT-PMP/PCP port on 127.0.0.1 */
  get pxpPort (): number { return (this.pxp?.address() as AddressInfo).port }
  /** where to send M-SEARCH */
  get ssdpTarget (): { address: string, port: number } { return { address: '127.0.0.1', port: (this.ssdp?.address() as AddressInfo).port } }
  get location (): string { return `http://127.0.0.1:${(this.http?.address() as AddressInfo).port}/rootDesc.xml` }

  /** seconds since the router (re)started, as NAT-PMP and PCP report it */
  get epoch (): number { return Math.floor((Date.now() - this.epochStart) / 1000) }

  /** A power cycle: the epoch starts again from 0 and every mapping is gone. */
  reboot (): void {
    this.epochStart = Date.now()
    this.mappings.clear()
  }

  fail (protocol: FakeProtocol, failure: Failure, scope: FailureScope = 'all'): void {
    this.failures.set(protocol, { failure, scope })
  }

  heal (protocol: FakeProtocol): void {
    this.failures.delete(protocol)
  }

  count (prefix: string): number {
    return this.requests.filter(r => r.startsWith(prefix)).length
  }

  private failure (protocol: FakeProtocol, isMap: boolean): Failure | undefined {
    const f = this.failures.get(protocol)
    if (f == null || (f.scope === 'map' && !isMap)) return undefined
    return f.failure
  }

  private grant (requested: number): number {
    return Math.min(requested, this.maxLifetimeSeconds)
  }

  /** A free external port, the suggested one when nobody else holds it. */
  private externalPortFor (protocol: 'tcp' | 'udp', suggested: number, client: string, internalPort: number): number {
    for (let port = suggested === 0 ? internalPort : suggested; port < 65536; port++) {
      const held = this.mappings.get(`${protocol}/${port}`)
      if (held == null || (held.internalClient === client && held.internalPort === internalPort)) return port
    }
    throw new Error('no free port')
  }

  private dropMappingOf (protocol: 'tcp' | 'udp', client: string, internalPort: number): void {
    for (const [k, m] of this.mappings) if (m.protocol === protocol && m.internalClient === client && m.internalPort === internalPort) this.mappings.delete(k)
  }

  // NAT-PMP and PCP share port 5351; the version byte tells them apart (RFC 6887 §9)
  private onPxp (msg: Buffer, rinfo: RemoteInfo): void {
    const reply = (b: Uint8Array): void => { this.pxp?.send(b, rinfo.port, rinfo.address) }
    if (msg[0] === NATPMP_VERSION) {
      this.onNatPmp(msg, rinfo, reply)
    } else if (msg[0] === PCP_VERSION) {
      this.onPcp(msg, rinfo, reply)
    }
  }

  private onNatPmp (msg: Buffer, rinfo: RemoteInfo, reply: (b: Uint8Array) => void): void {
    const op = msg[1] ?? 255
    this.requests.push(`nat-pmp:${op === 0 ? 'address' : op === 1 ? 'map-udp' : op === 2 ? 'map-tcp' : `op-${op}`}`)
    if (!this.protocols.has('nat-pmp')) return
    const f = this.failure('nat-pmp', op !== 0)
    if (f?.kind === 'silent') return
    const out = Buffer.alloc(op === 0 ? 12 : 16)
    out.writeUInt8(NATPMP_VERSION, 0)
    out.writeUInt8(128 + op, 1)
    out.writeUInt32BE(this.epoch, 4)
    if (f?.kind === 'code') {
      out.writeUInt16BE(f.code, 2)
      reply(out.subarray(0, 8))
      return
    }
    if (f?.kind === 'garbage') {
      // the right header, then cut short: a success answer without its fields
      reply(out.subarray(0, 6))
      return
    }
    if (op === 0) {
      this.externalIp.split('.').forEach((o, i) => { out.writeUInt8(Number(o), 8 + i) })
      reply(out)
      return
    }
    if (op !== 1 && op !== 2) { out.writeUInt16BE(5, 2); reply(out.subarray(0, 8)); return }
    const protocol = op === 1 ? 'udp' : 'tcp'
    const internalPort = msg.readUInt16BE(4)
    const suggested = msg.readUInt16BE(6)
    const lifetime = msg.readUInt32BE(8)
    out.writeUInt16BE(internalPort, 8)
    if (lifetime === 0) {
      this.dropMappingOf(protocol, rinfo.address, internalPort)
    } else {
      const externalPort = this.externalPortFor(protocol, suggested, rinfo.address, internalPort)
      this.dropMappingOf(protocol, rinfo.address, internalPort)
      const granted = this.grant(lifetime)
      this.mappings.set(`${protocol}/${externalPort}`, { protocol, internalClient: rinfo.address, internalPort, externalPort, lifetimeSeconds: granted, via: 'nat-pmp' })
      out.writeUInt16BE(externalPort, 10)
      out.writeUInt32BE(granted, 12)
    }
    reply(out)
  }

  private onPcp (msg: Buffer, rinfo: RemoteInfo, reply: (b: Uint8Array) => void): void {
    const op = (msg[1] ?? 0) & 0x7f
    this.requests.push(`pcp:${op === 0 ? 'announce' : op === 1 ? 'map' : `op-${op}`}`)
    if (!this.protocols.has('pcp')) {
      // a NAT-PMP-only router answers a PCP request with NAT-PMP's "unsupported version" (RFC 6887 §9)
      if (this.protocols.has('nat-pmp')) {
        const out = Buffer.alloc(8)
        out.writeUInt8(NATPMP_VERSION, 0)
        out.writeUInt8(128 + op, 1)
        out.writeUInt16BE(1, 2)
        out.writeUInt32BE(this.epoch, 4)
        reply(out)
      }
      return
    }
    const f = this.failure('pcp', op === 1)
    if (f?.kind === 'silent') return
    const out = Buffer.alloc(op === 1 ? 60 : 24)
    out.writeUInt8(PCP_VERSION, 0)
    out.writeUInt8(0x80 | op, 1)
    out.writeUInt32BE(this.epoch, 8)
    if (op === 1 && msg.byteLength >= 60) msg.copy(out, 24, 24, 60)
    if (f?.kind === 'code') { out.writeUInt8(f.code, 3); reply(out); return }
    if (f?.kind === 'garbage') { reply(out.subarray(0, 40)); return }
    if (op === 0) { reply(out); return }
    if (op !== 1 || msg.byteLength < 60) { out.writeUInt8(4, 3); reply(out.subarray(0, 24)); return }
    const lifetime = msg.readUInt32BE(4)
    const protocol = msg[36] === 17 ? 'udp' : 'tcp'
    const internalPort = msg.readUInt16BE(40)
    const suggested = msg.readUInt16BE(42)
    if (lifetime === 0) {
      this.dropMappingOf(protocol, rinfo.address, internalPort)
    } else {
      const externalPort = this.externalPortFor(protocol, suggested, rinfo.address, internalPort)
      this.dropMappingOf(protocol, rinfo.address, internalPort)
      const granted = this.grant(lifetime)
      this.mappings.set(`${protocol}/${externalPort}`, { protocol, internalClient: rinfo.address, internalPort, externalPort, lifetimeSeconds: granted, via: 'pcp' })
      out.writeUInt32BE(granted, 4)
      out.writeUInt16BE(externalPort, 42)
      // the assigned external address, IPv4-mapped (RFC 6887 §5)
      out.fill(0, 44, 60)
      out.writeUInt16BE(0xffff, 54)
      this.externalIp.split('.').forEach((o, i) => { out.writeUInt8(Number(o), 56 + i) })
    }
    reply(out)
  }

  private onSsdp (msg: Buffer, rinfo: RemoteInfo): void {
    const text = msg.toString('utf8')
    if (!text.startsWith('M-SEARCH')) return
    this.requests.push('ssdp:M-SEARCH')
    if (!this.protocols.has('upnp') || this.failure('upnp', false)?.kind === 'silent') return
    const st = /^ST:\s*(.+)$/mi.exec(text)?.[1]?.trim() ?? 'upnp:rootdevice'
    const answer = ['HTTP/1.1 200 OK', 'CACHE-CONTROL: max-age=120', `ST: ${st}`, `USN: uuid:fake-gateway::${st}`, 'EXT:',
      `LOCATION: ${this.location}`, '', ''].join('\r\n')
    this.ssdp?.send(answer, rinfo.port, rinfo.address)
  }

  private onHttp (req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const action = /#(\w+)"?$/.exec(String(req.headers.soapaction ?? ''))?.[1] ?? ''
      this.requests.push(`upnp:${req.method === 'GET' ? 'description' : action}`)
      const xml = (status: number, text: string): void => { res.writeHead(status, { 'content-type': 'text/xml' }).end(text) }
      const f = this.failure('upnp', action === 'AddPortMapping' || action === 'AddAnyPortMapping')
      if (f?.kind === 'silent') return // the request hangs until the client gives up
      if (f?.kind === 'garbage') { xml(200, '<html><body>Login required</body></html>'); return }
      if (f?.kind === 'code') { xml(500, fault(f.code)); return }
      if (req.method === 'GET') { xml(200, description(WAN(this.upnpVersion))); return }
      const arg = (name: string): string => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1] ?? ''
      const protocol = arg('NewProtocol').toLowerCase() === 'udp' ? 'udp' : 'tcp'
      const externalPort = Number(arg('NewExternalPort'))
      const ok = (values: Record<string, string | number> = {}): void => { xml(200, soap(WAN(this.upnpVersion), action, values)) }
      switch (action) {
        case 'GetExternalIPAddress':
          ok({ NewExternalIPAddress: this.externalIp })
          return
        case 'AddPortMapping':
        case 'AddAnyPortMapping': {
          const client = arg('NewInternalClient')
          const internalPort = Number(arg('NewInternalPort'))
          if (this.upnpPermanentOnly && Number(arg('NewLeaseDuration')) !== 0) { xml(500, fault(725)); return }
          const held = this.mappings.get(`${protocol}/${externalPort}`)
          let port = externalPort
          if (held != null && (held.internalClient !== client || held.internalPort !== internalPort)) {
            if (action === 'AddPortMapping') { xml(500, fault(718)); return }
            port = this.externalPortFor(protocol, externalPort, client, internalPort)
          }
          this.mappings.set(`${protocol}/${port}`, { protocol, internalClient: client, internalPort, externalPort: port, lifetimeSeconds: Number(arg('NewLeaseDuration')), via: 'upnp' })
          ok(action === 'AddAnyPortMapping' ? { NewReservedPort: port } : {})
          return
        }
        case 'GetSpecificPortMappingEntry': {
          const m = this.mappings.get(`${protocol}/${externalPort}`)
          if (m == null) { xml(500, fault(714)); return }
          ok({ NewInternalPort: m.internalPort, NewInternalClient: m.internalClient, NewEnabled: 1, NewLeaseDuration: m.lifetimeSeconds })
          return
        }
        case 'DeletePortMapping':
          if (!this.mappings.delete(`${protocol}/${externalPort}`)) { xml(500, fault(714)); return }
          ok()
          return
        default:
          xml(500, fault(401))
      }
    })
  }
}

async function udp (onMessage: (msg: Buffer, rinfo: RemoteInfo) => void): Promise<Socket> {
  const socket = createSocket('udp4')
  socket.on('message', onMessage)
  await new Promise<void>((resolve, reject) => { socket.once('error', reject); socket.bind(0, '127.0.0.1', resolve) })
  return socket
}

function description (service: string): string {
  return `<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>0</minor></specVersion>
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType><friendlyName>fake gateway</friendlyName>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
<serviceList><service><serviceType>${service}</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
<controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL><SCPDURL>/WANIPCn.xml</SCPDURL></service></serviceList>
</device></deviceList></device></deviceList></device></root>`
}

function soap (service: string, action: string, values: Record<string, string | number>): string {
  const body = Object.entries(values).map(([k, v]) => `<${k}>${v}</${k}>`).join('')
  return `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:${action}Response xmlns:u="${service}">${body}</u:${action}Response></s:Body></s:Envelope>`
}

const UPNP_ERRORS: Record<number, string> = { 401: 'Invalid Action', 606: 'Action not authorized', 714: 'NoSuchEntryInArray', 718: 'ConflictInMappingEntry', 725: 'OnlyPermanentLeasesSupported' }

function fault (code: number): string {
  return '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring>' +
    `<detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode><errorDescription>${UPNP_ERRORS[code] ?? 'Error'}</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`
}
