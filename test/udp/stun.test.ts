// The STUN server (src/stun): a real Binding request over UDP on 127.0.0.1 is answered with
// the right XOR-MAPPED-ADDRESS; the codec round-trips IPv4 and IPv6; junk gets no answer.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import {
  StunServer, stunBinding, stunServersFor, parseStunUrl, encodeBindingRequest, encodeBindingResponse, parseHeader,
  parseAttributes, decodeAddress, mappedAddressOf, fingerprintOk, BINDING_SUCCESS, ATTR_XOR_MAPPED_ADDRESS, STUN_MAGIC_COOKIE
} from '../../dist/stun/index.js'

describe('STUN server over real UDP', () => {
  const server = new StunServer({ port: 0, hosts: ['127.0.0.1'], software: 'burrow test' })
  before(async () => { await server.start() })
  after(async () => { await server.stop() })

  it('answers a Binding request with the sender\'s address in XOR-MAPPED-ADDRESS', async () => {
    const socket = createSocket('udp4')
    await new Promise<void>(resolve => { socket.bind(0, '127.0.0.1', resolve) })
    const localPort = socket.address().port
    const txid = Uint8Array.from({ length: 12 }, (_, i) => i + 1)
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('no answer')) }, 3000)
      socket.once('message', msg => { clearTimeout(timer); resolve(msg) })
      socket.send(encodeBindingRequest(txid), server.port, '127.0.0.1')
    })
    socket.close()
    const header = parseHeader(reply)
    assert.ok(header !== undefined)
    assert.equal(header.type, BINDING_SUCCESS)
    assert.deepEqual([...header.transactionId], [...txid])
    assert.ok(fingerprintOk(reply), 'FINGERPRINT matches')
    const raw = parseAttributes(reply).get(ATTR_XOR_MAPPED_ADDRESS)
    assert.ok(raw !== undefined, 'XOR-MAPPED-ADDRESS present')
    // by hand, RFC 5389 §15.2: port XOR the cookie's top 16 bits, address XOR the cookie
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
    assert.equal(view.getUint8(1), 0x01, 'IPv4 family')
    assert.equal(view.getUint16(2) ^ (STUN_MAGIC_COOKIE >>> 16), localPort)
    assert.equal((view.getUint32(4) ^ STUN_MAGIC_COOKIE) >>> 0, 0x7f000001)
    assert.deepEqual(mappedAddressOf(reply), { address: '127.0.0.1', port: localPort })
    assert.ok(server.status().answered >= 1)
  })

  it('stunBinding() learns the mapped address', async () => {
    const mapped = await stunBinding({ host: '127.0.0.1', port: server.port })
    assert.equal(mapped.address, '127.0.0.1')
    assert.ok(mapped.port > 0)
  })

  it('drops what is not a Binding request', async () => {
    const socket = createSocket('udp4')
    let answered = false
    socket.on('message', () => { answered = true })
    await new Promise<void>(resolve => { socket.bind(0, '127.0.0.1', resolve) })
    socket.send(Buffer.from('hello, not stun at all'), server.port, '127.0.0.1')
    const badCookie = encodeBindingRequest()
    badCookie[4] = 0
    socket.send(badCookie, server.port, '127.0.0.1')
    await new Promise(resolve => setTimeout(resolve, 300))
    socket.close()
    assert.equal(answered, false)
  })
})

describe('STUN codec and server lists', () => {
  it('round-trips IPv6 and IPv4-mapped addresses', () => {
    const txid = new Uint8Array(12).fill(7)
    const v6 = encodeBindingResponse(txid, { address: '2001:db8::1', port: 3478 })
    assert.deepEqual(mappedAddressOf(v6), { address: '2001:db8:0:0:0:0:0:1', port: 3478 })
    const mapped = encodeBindingResponse(txid, { address: '::ffff:21.1.2.3', port: 40000 })
    assert.deepEqual(mappedAddressOf(mapped), { address: '21.1.2.3', port: 40000 })
    const raw = parseAttributes(v6).get(ATTR_XOR_MAPPED_ADDRESS)
    assert.ok(raw !== undefined)
    assert.deepEqual(decodeAddress(raw, txid, true), { address: '2001:db8:0:0:0:0:0:1', port: 3478 })
  })

  it('derives STUN servers from the bootstrap list, never anything else', () => {
    const id = '12D3KooWPkETzGqcKoHGRurCA4ANHxixos8wHq7RTN7cc3eF4jsu'
    assert.deepEqual(stunServersFor([`/ip4/21.1.2.3/tcp/4001/p2p/${id}`, `/ip4/21.1.2.3/udp/4001/quic-v1/p2p/${id}`, `/dns4/relay.example/tcp/4001/p2p/${id}`, `/ip6/2001:db8::1/tcp/4001/p2p/${id}`], 3478),
      ['stun:21.1.2.3:3478', 'stun:relay.example:3478'])
    assert.deepEqual(stunServersFor([], 3478), [])
    assert.deepEqual(parseStunUrl('stun:21.1.2.3:19302'), { host: '21.1.2.3', port: 19302 })
  })
})
