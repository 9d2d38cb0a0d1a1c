// Pure logic of port mapping, without the lab: NAT-PMP and PCP packets (RFC 6886, RFC 6887),
// epochs, SSDP and SOAP parsing, address kinds, the routing table.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MappingRefusedError } from '../../../src/portmap/index.ts'
import * as addresses from '../../../src/portmap/addresses.ts'
import * as epoch from '../../../src/portmap/epoch.ts'
import * as natPmpCodec from '../../../src/portmap/nat-pmp.ts'
import * as pcpCodec from '../../../src/portmap/pcp.ts'
import * as upnpCodec from '../../../src/portmap/upnp.ts'

describe('NAT-PMP codec (RFC 6886)', () => {
  it('encodes the external address and mapping requests', () => {
    assert.deepEqual([...natPmpCodec.encodeExternalAddressRequest()], [0, 0])
    assert.deepEqual([...natPmpCodec.encodeMapRequest('tcp', 4001, 4001, 7200)], [0, 2, 0, 0, 0x0f, 0xa1, 0x0f, 0xa1, 0, 0, 0x1c, 0x20])
    assert.equal(natPmpCodec.encodeMapRequest('udp', 1, 0, 0)[1], 1)
  })

  it('decodes responses and ignores other opcodes', () => {
    const ext = Uint8Array.of(0, 128, 0, 0, 0, 0, 0, 42, 21, 1, 2, 3)
    assert.deepEqual(natPmpCodec.decodeExternalAddressResponse(ext), { resultCode: 0, epoch: 42, externalIp: '21.1.2.3' })
    const map = Uint8Array.of(0, 130, 0, 0, 0, 0, 1, 0, 0x0f, 0xa1, 0x9c, 0x40, 0, 0, 0x0e, 0x10)
    assert.deepEqual(natPmpCodec.decodeMapResponse(map, 'tcp'), { opcode: 2, resultCode: 0, epoch: 256, internalPort: 4001, externalPort: 40000, lifetimeSeconds: 3600 })
    assert.equal(natPmpCodec.decodeMapResponse(map, 'udp'), undefined)
    assert.equal(natPmpCodec.decodeExternalAddressResponse(Uint8Array.of(2, 128, 0, 0)), undefined)
    assert.equal(natPmpCodec.decodeExternalAddressResponse(Uint8Array.of(0, 128, 0, 3, 0, 0, 0, 9))?.resultCode, 3)
  })
})

describe('PCP codec (RFC 6887)', () => {
  const nonce = Uint8Array.from({ length: 12 }, (_, i) => i + 1)

  it('encodes a MAP request: header, nonce, protocol, ports, IPv4-mapped addresses', () => {
    const b = pcpCodec.encodeMapRequest({ nonce, protocol: 'tcp', internalPort: 4001, suggestedExternalPort: 4002, suggestedExternalIp: '', lifetimeSeconds: 7200, clientIp: '192.168.1.10' })
    assert.equal(b.byteLength, 60)
    assert.deepEqual([...b.subarray(0, 8)], [2, 1, 0, 0, 0, 0, 0x1c, 0x20])
    assert.equal(pcpCodec.decodeAddress(b.subarray(8, 24)), '192.168.1.10')
    assert.deepEqual([...b.subarray(24, 36)], [...nonce])
    assert.equal(b[36], 6)
    assert.deepEqual([...b.subarray(40, 44)], [0x0f, 0xa1, 0x0f, 0xa2])
    assert.equal(pcpCodec.decodeAddress(b.subarray(44, 60)), '0.0.0.0')
    assert.equal(pcpCodec.encodeAnnounceRequest('10.0.0.2').byteLength, 24)
  })

  it('decodes a MAP response and ignores NAT-PMP answers', () => {
    const r = new Uint8Array(60)
    r.set([2, 0x81, 0, 0, 0, 0, 0, 120, 0, 0, 0, 7])
    r.set(nonce, 24)
    r[36] = 6
    r.set([0x0f, 0xa1, 0x0f, 0xa1], 40)
    r.set(pcpCodec.encodeAddress('21.5.6.7'), 44)
    const d = pcpCodec.decodeResponse(r)
    assert.equal(d?.resultCode, 0)
    assert.equal(d?.lifetimeSeconds, 120)
    assert.equal(d?.epoch, 7)
    assert.equal(d?.map?.externalIp, '21.5.6.7')
    assert.equal(d?.map?.externalPort, 4001)
    assert.equal(pcpCodec.decodeResponse(Uint8Array.of(0, 129, 0, 1)), undefined)
  })

  it('round-trips IPv6 addresses', () => {
    assert.equal(pcpCodec.decodeAddress(pcpCodec.encodeAddress('2001:db8::1')), '2001:db8::1')
  })
})

describe('epochs', () => {
  it('PCP: a reboot (epoch went back) or disagreeing clocks reveal lost state (§8.5)', () => {
    assert.equal(epoch.pcpEpochLost({ server: 1000, clientMs: 0 }, { server: 1010, clientMs: 10_000 }), false)
    assert.equal(epoch.pcpEpochLost({ server: 1000, clientMs: 0 }, { server: 3, clientMs: 10_000 }), true)
    assert.equal(epoch.pcpEpochLost({ server: 1000, clientMs: 0 }, { server: 1001, clientMs: 60_000 }), true)
  })

  it('NAT-PMP: an epoch 2 s below the 7/8 estimate means a reboot (§3.6)', () => {
    assert.equal(epoch.natPmpEpochLost({ server: 100, clientMs: 0 }, { server: 120, clientMs: 20_000 }), false)
    assert.equal(epoch.natPmpEpochLost({ server: 100, clientMs: 0 }, { server: 5, clientMs: 20_000 }), true)
    const t = new epoch.EpochTracker(epoch.natPmpEpochLost)
    assert.equal(t.observe(500, 0), false)
    assert.equal(t.observe(2, 1000), true)
  })
})

describe('UPnP: SSDP, description, SOAP', () => {
  it('builds M-SEARCH and parses its answer', () => {
    assert.match(upnpCodec.encodeMSearch('urn:schemas-upnp-org:device:InternetGatewayDevice:1'), /^M-SEARCH \* HTTP\/1\.1\r\nHOST: 239\.255\.255\.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: urn:/)
    const r = upnpCodec.parseSsdpResponse('HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nst: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLocation: http://192.168.1.1:5000/rootDesc.xml\r\nUSN: uuid:x\r\n\r\n')
    assert.deepEqual(r, { st: 'urn:schemas-upnp-org:device:InternetGatewayDevice:1', location: 'http://192.168.1.1:5000/rootDesc.xml', usn: 'uuid:x' })
    assert.equal(upnpCodec.parseSsdpResponse('NOTIFY * HTTP/1.1\r\n\r\n'), undefined)
  })

  it('finds the WAN connection service, best first, with absolute control URLs', () => {
    const xml = `<root><device><serviceList>
      <service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType><controlURL>/ctl/L3F</controlURL></service>
      </serviceList><deviceList><device><serviceList>
      <service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>/ctl/IP1</controlURL></service>
      <service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><controlURL>/ctl/IPConn</controlURL></service>
      </serviceList></device></deviceList></device></root>`
    assert.deepEqual(upnpCodec.parseDescription(xml, 'http://192.168.1.1:5000/rootDesc.xml'), [
      { serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:2', controlUrl: 'http://192.168.1.1:5000/ctl/IPConn' },
      { serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:1', controlUrl: 'http://192.168.1.1:5000/ctl/IP1' }
    ])
  })

  it('builds SOAP requests and reads answers and faults', () => {
    const body = upnpCodec.encodeSoapRequest('urn:schemas-upnp-org:service:WANIPConnection:1', 'DeletePortMapping', [['NewRemoteHost', ''], ['NewExternalPort', 4001], ['NewProtocol', 'TCP']])
    assert.match(body, /<u:DeletePortMapping xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"><NewRemoteHost><\/NewRemoteHost><NewExternalPort>4001<\/NewExternalPort>/)
    const ok = '<s:Envelope><s:Body><u:GetExternalIPAddressResponse xmlns:u="x"><NewExternalIPAddress>21.1.2.3</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>'
    assert.deepEqual(upnpCodec.parseSoapResponse(200, ok, 'GetExternalIPAddress', ['NewExternalIPAddress']), { NewExternalIPAddress: '21.1.2.3' })
    const fault = '<s:Envelope><s:Body><s:Fault><detail><UPnPError><errorCode>718</errorCode><errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>'
    assert.throws(() => upnpCodec.parseSoapResponse(500, fault, 'AddPortMapping', []), (err: unknown) => err instanceof MappingRefusedError && err.resultCode === 718 && err.code === 'ERR_MAPPING_REFUSED')
  })
})

describe('addresses, routes and NAT behaviour', () => {
  it('classifies external addresses', () => {
    assert.equal(addresses.classifyIPv4('21.1.2.3'), 'public')
    assert.equal(addresses.classifyIPv4('100.64.1.10'), 'carrier-grade')
    assert.equal(addresses.classifyIPv4('100.128.0.1'), 'public')
    assert.equal(addresses.classifyIPv4('192.168.1.1'), 'private')
    assert.equal(addresses.classifyIPv4('172.20.0.1'), 'private')
    assert.equal(addresses.classifyIPv4('0.0.0.0'), 'unspecified')
    assert.equal(addresses.classifyIPv4('nope'), 'invalid')
  })

  it('reads the default gateway from /proc/net/route', () => {
    const table = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' +
      'eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n' +
      'eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n'
    assert.equal(addresses.parseProcNetRoute(table), '192.168.1.1')
  })
})
