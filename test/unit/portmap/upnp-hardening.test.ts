// Issue 10, acceptance 5 (without the lab): the UPnP client against a fake gateway on
// loopback. 127.0.0.1 plays the gateway, 127.0.0.2 "another host" on the LAN: a description
// that points URLBase or controlURL at it (or at a non-HTTP port) is refused and the other
// host gets no request; bodies over the cap are refused; the XML reader stays linear on a
// 256 KiB pathological body.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { UpnpClient } from '../../../src/portmap/index.ts'
import * as upnpCodec from '../../../src/portmap/upnp.ts'
import * as upnpXml from '../../../src/portmap/xml.ts'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

const WAN = 'urn:schemas-upnp-org:service:WANIPConnection:1'
const GATEWAY = '127.0.0.1'
const OTHER = '127.0.0.2'

function description (opts: { urlBase?: string, controlUrl: string }): string {
  return `<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0">${opts.urlBase != null ? `<URLBase>${opts.urlBase}</URLBase>` : ''}
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType><deviceList><device><deviceList><device>
<serviceList><service><serviceType>${WAN}</serviceType><controlURL>${opts.controlUrl}</controlURL></service></serviceList>
</device></deviceList></device></deviceList></device></root>`
}

/** An HTTP server that records every request and answers GET with `body()` and SOAP with an external IP. */
class FakeHttp {
  readonly requests: string[] = []
  body: () => string = () => ''
  private readonly server: Server
  readonly host: string
  port = 0

  constructor (host: string) {
    this.host = host
    this.server = createServer((req, res) => {
      this.requests.push(`${req.method ?? ''} ${req.url ?? ''}`)
      req.resume()
      req.on('end', () => {
        if (req.method === 'GET') { res.writeHead(200, { 'content-type': 'text/xml' }).end(this.body()); return }
        res.writeHead(200, { 'content-type': 'text/xml' }).end(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:GetExternalIPAddressResponse xmlns:u="${WAN}"><NewExternalIPAddress>21.9.9.9</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>`)
      })
    })
  }

  async start (): Promise<void> {
    await new Promise<void>(resolve => this.server.listen(0, this.host, resolve))
    this.port = (this.server.address() as AddressInfo).port
  }

  async stop (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => { resolve() }))
  }
}

/** Bodies that made the old regular-expression reader backtrack: unclosed tags, repeated. */
function pathological (size: number): Record<string, string> {
  return {
    'unclosed <service>': '<service>'.repeat(Math.ceil(size / 9)).slice(0, size),
    'unclosed <URLBase attr': '<URLBase a'.repeat(Math.ceil(size / 10)).slice(0, size),
    'prefixed tags without >': '<a:URLBase '.repeat(Math.ceil(size / 11)).slice(0, size),
    'nested open tags': '<service><serviceType>'.repeat(Math.ceil(size / 22)).slice(0, size),
    'unbalanced tags': '<service><serviceType>x</service>'.repeat(Math.ceil(size / 33)).slice(0, size),
    'unclosed comment': '<service>' + '<!-'.repeat(Math.ceil(size / 3)).slice(0, size - 9)
  }
}

describe('UPnP client: URLs stay on the gateway, bodies are capped and read in linear time', () => {
  const gateway = new FakeHttp(GATEWAY)
  const other = new FakeHttp(OTHER)

  before(async () => {
    await gateway.start()
    await other.start()
    other.body = () => description({ controlUrl: '/ctl' })
  })

  after(async () => {
    await gateway.stop()
    await other.stop()
  })

  const discover = async (): Promise<UpnpClient> => UpnpClient.discover({ location: `http://${GATEWAY}:${gateway.port}/rootDesc.xml`, gateway: GATEWAY })

  it('a description on the gateway with its control URL there works (the control case)', async () => {
    gateway.body = () => description({ controlUrl: '/ctl/IPConn' })
    const client = await discover()
    assert.equal(client.service.controlUrl, `http://${GATEWAY}:${gateway.port}/ctl/IPConn`)
    assert.equal((await client.externalIp()).externalIp, '21.9.9.9')
  })

  for (const [what, desc] of [
    ['a controlURL on another host', () => description({ controlUrl: `http://${OTHER}:${other.port}/ctl` })],
    ['a URLBase on another host', () => description({ urlBase: `http://${OTHER}:${other.port}/`, controlUrl: '/ctl' })],
    ['a controlURL on the gateway but on the SMTP port', () => description({ controlUrl: `http://${GATEWAY}:25/ctl` })],
    ['a controlURL with credentials', () => description({ controlUrl: `http://user:pw@${GATEWAY}:${gateway.port}/ctl` })]
  ] as const) {
    it(`a gateway whose description has ${what} is ignored; nothing is sent there`, async () => {
      gateway.body = desc
      const before = other.requests.length
      let client: UpnpClient | undefined
      await assert.rejects(async () => { client = await discover() }, (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_MALFORMED_RESPONSE')
        return true
      })
      // (were a client returned, its first SOAP call would go to the other host)
      await client?.externalIp().catch(() => {})
      assert.equal(other.requests.length, before, JSON.stringify(other.requests))
    })
  }

  it('a LOCATION off the gateway is refused before any request', async () => {
    const before = other.requests.length
    await assert.rejects(UpnpClient.discover({ location: `http://${OTHER}:${other.port}/rootDesc.xml`, gateway: GATEWAY }), /not on the gateway 127\.0\.0\.1/)
    assert.equal(other.requests.length, before)
  })

  it('SSDP answers: only from the gateway, with a LOCATION on it', () => {
    assert.equal(upnpCodec.ssdpAnswerProblem('192.168.1.1', 'http://192.168.1.1:5000/rootDesc.xml', '192.168.1.1'), undefined)
    assert.match(upnpCodec.ssdpAnswerProblem('192.168.1.66', 'http://192.168.1.66:5000/rootDesc.xml', '192.168.1.1') ?? '', /answer from 192\.168\.1\.66, which is not the gateway 192\.168\.1\.1/)
    assert.match(upnpCodec.ssdpAnswerProblem('192.168.1.1', 'http://10.0.0.5:80/x.xml', '192.168.1.1') ?? '', /on 10\.0\.0\.5, not on the gateway/)
    assert.match(upnpCodec.ssdpAnswerProblem('192.168.1.1', 'http://192.168.1.1:22/x.xml', '192.168.1.1') ?? '', /port 22/)
    assert.match(upnpCodec.ssdpAnswerProblem('192.168.1.1', 'https://192.168.1.1/x.xml', '192.168.1.1') ?? '', /not plain http/)
    // the URL parser normalises other spellings of an address before the comparison
    assert.match(upnpCodec.ssdpAnswerProblem('192.168.1.1', 'http://0xc0a80142:5000/x.xml', '192.168.1.1') ?? '', /on 192\.168\.1\.66/)
  })

  it('a 256 KiB description is refused at the 64 KiB cap, nothing parsed', async () => {
    gateway.body = () => pathological(256 * 1024)['unclosed <service>'] ?? ''
    await assert.rejects(discover(), /over 65536 bytes/)
  })

  it('the XML reader is linear: 256 KiB pathological bodies parse (times in the log), a real description still reads', () => {
    for (const [what, body] of Object.entries(pathological(256 * 1024))) {
      // (the cap is raised here to time the reader itself on the whole body)
      const started = performance.now()
      let outcome: string
      try {
        outcome = `${upnpXml.findAll(upnpXml.parseXml(body, 512 * 1024), 'service').length} <service> elements`
      } catch (err) {
        // refusing is fine too, as long as it is the reader's own error
        assert.equal((err as { code?: string }).code, 'ERR_MALFORMED_RESPONSE')
        outcome = (err as Error).message
      }
      const ms = performance.now() - started
      console.log(`# ${what}, ${body.length} bytes: ${ms.toFixed(1)} ms (${outcome})`)
    }
    // a real description with junk before it, under the cap, still gives its service
    const junk = '<!-- x --><unused a="1>2"/>'.repeat(1000)
    const services = upnpCodec.parseDescription(`<root>${junk}</root>${description({ controlUrl: '/ctl' })}`, 'http://192.168.1.1:5000/d.xml')
    assert.deepEqual(services, [{ serviceType: WAN, controlUrl: 'http://192.168.1.1:5000/ctl' }])
    // nested <service> elements: the control URL belongs to the innermost alone (each enclosing
    // one used to repeat it, up to the depth cap: ~30 copies of a long URL from one body)
    const nested = `<root><serviceList>${'<service><x>'.repeat(14)}<service><serviceType>${WAN}</serviceType><controlURL>/${'>'.repeat(2000)}</controlURL></service></serviceList></root>`
    const once = upnpCodec.parseDescription(nested, 'http://192.168.1.1:5000/d.xml')
    assert.equal(once.length, 1, `one service, got ${once.length}`)
    assert.equal(once[0]?.controlUrl, `http://192.168.1.1:5000/${'%3E'.repeat(2000)}`)
    // entities, CDATA and namespace prefixes
    const doc = upnpXml.parseXml('<s:a><b>x &amp;lt; &#65;&#x42;</b><c><![CDATA[<d>&amp;]]></c></s:a>')
    assert.equal(upnpXml.textOf(doc, 'b'), 'x &lt; AB')
    assert.equal(upnpXml.textOf(doc, 'c'), '<d>&amp;')
    assert.throws(() => upnpXml.parseXml('<a>'.repeat(100)), /nested deeper than 32/)
  })
})
