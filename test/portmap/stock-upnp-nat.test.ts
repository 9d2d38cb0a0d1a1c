// Why burrow's PortMapper speaks UPnP IGD itself instead of using @libp2p/upnp-nat
// (docs/DESIGN.md, "Why not the stock @libp2p/upnp-nat"): the stock service follows a
// control URL that the gateway's description points at another host, so whoever answers
// discovery, or serves the description, makes the node send SOAP requests anywhere on
// the LAN. 127.0.0.1 plays the gateway, 127.0.0.2 the other host (loopback only). The
// same description is refused by burrow's client (test/portmap/upnp-hardening.test.ts).
// When this test fails, the stock package has fixed the defect: reconsider using it.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { autoNAT } from '@libp2p/autonat'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { UpnpClient } from '../../dist/portmap/index.js'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Libp2p } from '@libp2p/interface'

const WAN = 'urn:schemas-upnp-org:service:WANIPConnection:2'

function description (controlUrl: string): string {
  return `<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0">
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType><deviceList><device><deviceList><device>
<serviceList><service><serviceType>${WAN}</serviceType><controlURL>${controlUrl}</controlURL><SCPDURL>/scpd.xml</SCPDURL></service></serviceList>
</device></deviceList></device></deviceList></device></root>`
}

/** Records every request; answers GET with `body` and any SOAP call with an external IP. */
async function fakeHttp (host: string, body: () => string): Promise<{ server: Server, port: number, requests: string[] }> {
  const requests: string[] = []
  const server = createServer((req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`)
    req.resume()
    req.on('end', () => {
      if (req.method === 'GET') { res.writeHead(200, { 'content-type': 'text/xml' }).end(body()); return }
      res.writeHead(200, { 'content-type': 'text/xml' }).end(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:GetExternalIPAddressResponse xmlns:u="${WAN}"><NewExternalIPAddress>21.9.9.9</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>`)
    })
  })
  await new Promise<void>(resolve => server.listen(0, host, resolve))
  return { server, port: (server.address() as AddressInfo).port, requests }
}

async function close (server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>(resolve => server.close(() => { resolve() }))
}

describe('the stock @libp2p/upnp-nat follows a control URL off the gateway', () => {
  let gateway: Awaited<ReturnType<typeof fakeHttp>>
  let other: Awaited<ReturnType<typeof fakeHttp>>
  let node: Libp2p | undefined
  let controlUrl = ''

  before(async () => {
    other = await fakeHttp('127.0.0.2', () => '')
    controlUrl = `http://127.0.0.2:${other.port}/ctl`
    gateway = await fakeHttp('127.0.0.1', () => description(controlUrl))
  })
  after(async () => {
    await node?.stop()
    await close(gateway.server)
    await close(other.server)
  })

  it('stock: the gateway description sends its SOAP requests to another host', async () => {
    node = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), autoNAT: autoNAT(), upnp: uPnPNAT({ gateways: [`http://127.0.0.1:${gateway.port}/rootDesc.xml`] }) }
    })
    const deadline = Date.now() + 20_000
    while (other.requests.length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
    assert.ok(gateway.requests.some(r => r.startsWith('GET /rootDesc.xml')), 'the stock service fetched the description')
    assert.ok(other.requests.some(r => r.startsWith('POST /ctl')), `the other host got the stock service's SOAP call: ${JSON.stringify(other.requests)}`)
  })

  it('burrow: the same description is refused and the other host gets nothing; with the control URL on the gateway it works', async () => {
    const before = other.requests.length
    const location = `http://127.0.0.1:${gateway.port}/rootDesc.xml`
    await assert.rejects(UpnpClient.discover({ location, gateway: '127.0.0.1' }), { code: 'ERR_MALFORMED_RESPONSE' })
    assert.equal(other.requests.length, before)
    controlUrl = '/ctl'
    const client = await UpnpClient.discover({ location, gateway: '127.0.0.1' })
    assert.equal((await client.externalIp()).externalIp, '21.9.9.9')
    assert.equal(other.requests.length, before)
  })
})
