/**
 * Issue 15: the punch coordinator's messages are validated strictly at the edge (a hostile
 * peer's frame is refused with a clear error, never thrown into the node), and the method
 * follows from the two NAT kinds alike on both sides.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { decodePunchMessage, encodePunchMessage, methodFor } from '../../dist/udx/index.js'

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v))
const good = { type: 'CONNECT', addr: '198.51.100.7:4001', nat: 'endpoint-independent', keepaliveMs: 25_000, nonce: '0123456789abcdef0123456789abcdef' }

describe('UDX punch protocol', () => {
  it('round-trips CONNECT and SYNC', () => {
    assert.deepEqual(decodePunchMessage(encodePunchMessage(good as never)), good)
    assert.deepEqual(decodePunchMessage(encodePunchMessage({ type: 'SYNC' })), { type: 'SYNC' })
    assert.deepEqual(decodePunchMessage(enc({ ...good, addr: null })), { ...good, addr: null })
  })

  it('refuses anything else with ERR_UDX_PROTOCOL', () => {
    const bad: unknown[] = [
      'not json', '[]', 'null', '"CONNECT"',
      { type: 'HELLO' },
      { type: 'SYNC', extra: 1 },
      { ...good, extra: true },
      { ...good, addr: '198.51.100.7' },
      { ...good, addr: '198.51.100.7:0' },
      { ...good, addr: '198.51.100.7:70000' },
      { ...good, addr: '[::1]:4001' },
      { ...good, addr: 'example.com:4001' },
      { ...good, nat: 'full-cone' },
      { ...good, keepaliveMs: 0 },
      { ...good, keepaliveMs: 1.5 },
      { ...good, keepaliveMs: '25000' },
      { ...good, nonce: 'ABCDEF' },
      { ...good, nonce: '0123456789abcdef0123456789abcdeg' }
    ]
    for (const b of bad) {
      assert.throws(() => decodePunchMessage(enc(b)), (err: Error & { code?: string }) => err.name === 'UdxProtocolError' && err.code === 'ERR_UDX_PROTOCOL', `refused: ${JSON.stringify(b)}`)
    }
    assert.throws(() => decodePunchMessage(new Uint8Array(600).fill(32)), /max 512/)
    assert.throws(() => decodePunchMessage(Uint8Array.of(0xff, 0xfe)), /not UTF-8 JSON/)
  })

  it('picks the method from both NAT kinds: direct, birthday, or none between two symmetric NATs', () => {
    assert.equal(methodFor('endpoint-independent', 'endpoint-independent').method, 'direct')
    assert.equal(methodFor('unknown', 'endpoint-independent').method, 'direct')
    assert.equal(methodFor('endpoint-independent', 'endpoint-dependent').method, 'birthday')
    assert.equal(methodFor('endpoint-dependent', 'unknown').method, 'birthday')
    const none = methodFor('endpoint-dependent', 'endpoint-dependent')
    assert.equal(none.method, 'none')
    assert.match(none.why ?? '', /both NATs are endpoint-dependent/)
  })
})
