// The STUN server (src/stun): a real Binding request over UDP on 127.0.0.1 is answered with
// the right XOR-MAPPED-ADDRESS; the codec round-trips IPv4 and IPv6; junk gets no answer;
// no request gets more bytes back than it carried, except within a per-source rate limit.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import { crc32 } from 'node:zlib'
import {
  StunServer, stunBinding, stunServersFor, parseStunUrl, encodeBindingRequest, encodeBindingResponse, parseHeader,
  parseAttributes, decodeAddress, mappedAddressOf, fingerprintOk, hasFingerprint, sourceKey, BINDING_SUCCESS,
  ATTR_XOR_MAPPED_ADDRESS, ATTR_MAPPED_ADDRESS, ATTR_FINGERPRINT, STUN_MAGIC_COOKIE, PADDED_REQUEST_BYTES
} from '../../dist/stun/index.js'
import type { Socket } from 'node:dgram'

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
      socket.send(encodeBindingRequest(txid, PADDED_REQUEST_BYTES), server.port, '127.0.0.1')
    })
    socket.close()
    const header = parseHeader(reply)
    assert.ok(header !== undefined)
    assert.equal(header.type, BINDING_SUCCESS)
    assert.ok(reply.byteLength <= PADDED_REQUEST_BYTES, `${reply.byteLength} bytes back for ${PADDED_REQUEST_BYTES}`)
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

/** A client socket on `host`; `replies` collects every datagram it gets. */
async function client (host: string): Promise<{ socket: Socket, replies: Buffer[], close: () => void }> {
  const socket = createSocket('udp4')
  const replies: Buffer[] = []
  socket.on('message', msg => { replies.push(msg) })
  await new Promise<void>(resolve => { socket.bind(0, host, resolve) })
  return { socket, replies, close: () => { socket.close() } }
}

/** Sends every request, then waits until the server has handled them all (its counters say so). */
async function sendAll (server: StunServer, socket: Socket, requests: Uint8Array[]): Promise<void> {
  const before = server.status().answered + server.status().limited
  for (const r of requests) socket.send(r, server.port, '127.0.0.1')
  const deadline = Date.now() + 10_000
  while (server.status().answered + server.status().limited < before + requests.length && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  await new Promise(resolve => setTimeout(resolve, 100)) // the last answers on their way over loopback
}

describe('STUN server is no reflector', () => {
  // what a forger sends with the victim's address as source: bare 20-byte requests
  const server = new StunServer({ port: 0, hosts: ['127.0.0.1'], software: 'burrow 0.1.0' })
  before(async () => { await server.start() })
  after(async () => { await server.stop() })

  it('answers a flood of bare 20-byte requests from one source only within its rate limit, each answer compact', async () => {
    const a = await client('127.0.0.1')
    try {
      await sendAll(server, a.socket, Array.from({ length: 40 }, () => encodeBindingRequest()))
      assert.ok(a.replies.length >= 1, 'a bare request is still answered: the source has not used its burst yet')
      assert.ok(a.replies.length < 40, `${a.replies.length} of 40 answered: the rest are rate-limited`)
      assert.ok(server.status().limited >= 40 - a.replies.length)
      for (const r of a.replies) {
        // XOR-MAPPED-ADDRESS only: 32 bytes, the least that carries the answer
        assert.equal(r.byteLength, 32)
        assert.deepEqual([...parseAttributes(r).keys()], [ATTR_XOR_MAPPED_ADDRESS])
        assert.equal(mappedAddressOf(r)?.port, a.socket.address().port)
      }
    } finally {
      a.close()
    }
  })

  it('answers a request padded to the response size in full, also while its source is rate-limited', async () => {
    const a = await client('127.0.0.1')
    try {
      await sendAll(server, a.socket, Array.from({ length: 12 }, () => encodeBindingRequest(undefined, PADDED_REQUEST_BYTES)))
      assert.equal(a.replies.length, 12, 'every padded request answered')
      for (const r of a.replies) {
        assert.ok(r.byteLength <= PADDED_REQUEST_BYTES)
        assert.ok(parseAttributes(r).has(ATTR_MAPPED_ADDRESS) && fingerprintOk(r) && hasFingerprint(r), 'the full response')
      }
      // stunBinding() pads, so burrow's own diagnostics are never limited
      const mapped = await stunBinding({ host: '127.0.0.1', port: server.port })
      assert.equal(mapped.address, '127.0.0.1')
    } finally {
      a.close()
    }
  })

  it('keeps FINGERPRINT in a compact answer when the request had one, never more bytes than needed', async () => {
    const b = await client('127.0.0.3')
    try {
      const req = withFingerprint(encodeBindingRequest())
      assert.equal(req.byteLength, 28)
      await sendAll(server, b.socket, [req])
      assert.equal(b.replies.length, 1)
      const r = b.replies[0] ?? Buffer.alloc(0)
      assert.equal(r.byteLength, 40)
      assert.ok(hasFingerprint(r) && fingerprintOk(r))
    } finally {
      b.close()
    }
  })

  it('limits per source IP: another address is still answered while the first is limited', async () => {
    const a = await client('127.0.0.1')
    const other = await client('127.0.0.2')
    try {
      await sendAll(server, a.socket, Array.from({ length: 20 }, () => encodeBindingRequest()))
      await sendAll(server, other.socket, [encodeBindingRequest()])
      assert.equal(other.replies.length, 1)
      assert.equal(mappedAddressOf(other.replies[0] ?? Buffer.alloc(0))?.address, '127.0.0.2')
    } finally {
      a.close()
      other.close()
    }
  })

  it('remembers a bounded number of sources', async () => {
    const small = new StunServer({ port: 0, hosts: ['127.0.0.1'], maxTrackedSources: 2 })
    await small.start()
    try {
      for (const host of ['127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7']) {
        const c = await client(host)
        await sendAll(small, c.socket, [encodeBindingRequest()])
        assert.equal(c.replies.length, 1)
        c.close()
      }
      assert.equal(small.status().sources, 2)
    } finally {
      await small.stop()
    }
  })

  it('keys IPv6 sources by /64 and IPv4-mapped ones as IPv4', () => {
    assert.equal(sourceKey('2001:db8::1'), sourceKey('2001:db8::ffff:1'))
    assert.notEqual(sourceKey('2001:db8::1'), sourceKey('2001:db8:0:1::1'))
    assert.equal(sourceKey('::ffff:192.0.2.1'), '192.0.2.1')
    assert.equal(sourceKey('192.0.2.1'), '192.0.2.1')
  })
})

/** Appends a FINGERPRINT attribute to a request (RFC 5389 §15.5), as ICE agents do. */
function withFingerprint (req: Uint8Array): Uint8Array {
  const out = new Uint8Array(req.byteLength + 8)
  out.set(req)
  const view = new DataView(out.buffer)
  view.setUint16(2, req.byteLength - 20 + 8)
  view.setUint16(req.byteLength, ATTR_FINGERPRINT)
  view.setUint16(req.byteLength + 2, 4)
  view.setUint32(req.byteLength + 4, (crc32(out.subarray(0, req.byteLength)) ^ 0x5354554e) >>> 0)
  return out
}
