// The config checker (src/config/check.ts, which replaced zod): every bound of the config
// holds, a bad value is named by its path with one line saying what is wrong, and a checked
// config holds only the declared keys.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { boolean, list, number, object, oneOf, preprocess, string } from '../../../src/config/check.ts'
import { validateConfig, InvalidConfigError } from '../../../src/config/index.ts'
import { defaultsObject, setPath } from '../../../src/config/fields.ts'

function problem (r: { ok: boolean, problem?: { path: Array<string | number>, message: string } }): [string, string] {
  assert.equal(r.ok, false, 'expected a problem')
  return [(r.problem?.path ?? []).join('.'), r.problem?.message ?? '']
}

describe('the config checker', () => {
  it('numbers: type, whole, above 0, least and most', () => {
    const n = number().int().min(1).max(8)
    assert.deepEqual(n.check(3), { ok: true, value: 3 })
    assert.deepEqual(problem(n.check('3')), ['', 'expected a number, got the text "3"'])
    assert.deepEqual(problem(n.check(Number.NaN)), ['', 'expected a number, got the number NaN'])
    assert.deepEqual(problem(n.check(2.5)), ['', 'expected a whole number, got 2.5'])
    assert.deepEqual(problem(n.check(0)), ['', 'too small: the least is 1'])
    assert.deepEqual(problem(n.check(9)), ['', 'too large: the most is 8'])
    assert.deepEqual(problem(number().positive().check(0)), ['', 'expected a number above 0, got 0'])
  })

  it('text, one-of, true/false, nullable, refine', () => {
    assert.deepEqual(problem(string().regex(/^a/, 'starts with a').check('b')), ['', 'starts with a'])
    assert.deepEqual(problem(string().problem(s => s.length > 2 ? 'too long' : undefined).check('abc')), ['', 'too long'])
    assert.deepEqual(problem(string().check(undefined)), ['', 'expected text, got nothing'])
    assert.deepEqual(problem(oneOf(['on', 'off']).check('maybe')), ['', 'expected one of on, off, got the text "maybe"'])
    assert.deepEqual(problem(boolean().check('true')), ['', 'expected true or false, got the text "true"'])
    assert.deepEqual(string().nullable().check(null), { ok: true, value: null })
    assert.deepEqual(problem(string().check(null)), ['', 'expected text, got null'])
    assert.deepEqual(problem(number().refine(n => n % 2 === 0, 'an even number').check(3)), ['', 'an even number'])
  })

  it('lists and objects name the path to the bad value; unknown keys are problems; the result holds only declared keys', () => {
    const s = object({ a: list(number()), b: object({ c: boolean() }) })
    assert.deepEqual(problem(s.check({ a: [1, 'x'], b: { c: true } })), ['a.1', 'expected a number, got the text "x"'])
    assert.deepEqual(problem(s.check({ a: [], b: { c: true, d: 1 } })), ['b.d', 'unknown setting "d"'])
    assert.deepEqual(problem(s.check({ a: [], b: {} })), ['b.c', 'expected true or false, got nothing'])
    assert.deepEqual(problem(s.check([])), ['', 'expected an object, got a list'])
    const ok = s.check({ b: { c: false }, a: [2] })
    assert.deepEqual(ok, { ok: true, value: { a: [2], b: { c: false } } })
  })

  it('preprocess checks what the function made of the value', () => {
    const s = preprocess(v => Array.isArray(v) && v.includes('none') ? [] : v, list(string()))
    assert.deepEqual(s.check(['none', 'x']), { ok: true, value: [] })
    assert.deepEqual(problem(s.check([1])), ['0', 'expected text, got the number 1'])
  })
})

describe('the config bounds', () => {
  const withValue = (path: string, value: unknown): Record<string, unknown> => {
    const c = defaultsObject()
    setPath(c, path, value)
    return c
  }
  const rejects = (path: string, value: unknown, message: RegExp): void => {
    assert.throws(() => validateConfig(withValue(path, value), new Map([[path, 'a test']])), (err: InvalidConfigError) => {
      assert.equal(err.code, 'ERR_INVALID_CONFIG')
      assert.match(err.message, message)
      assert.doesNotMatch(err.message, /\n/)
      return true
    })
  }

  it('the defaults pass and come back whole', () => {
    const c = validateConfig(defaultsObject())
    assert.equal(c.network, 'amino')
    assert.equal(c.relay.maxCircuits > 0, true)
  })

  it('limits a hostile or mistaken value cannot pass', () => {
    rejects('relay.maxCircuits', -1, /relay\.maxCircuits = -1 \(from a test\): too small: the least is 0/)
    rejects('relay.maxCircuits', 2_000_000, /too large: the most is 1000000/)
    rejects('relay.reservations', 9, /too large: the most is 8/)
    rejects('messages.maxBytes', 64 * 1024 * 1024 + 1, /messages\.maxBytes = 67108865 .*too large/)
    rejects('probing.perSecond', 500, /probing\.perSecond = 500 .*the most is 100/)
    rejects('probing.sockets', 0, /the least is 1/)
    rejects('control.maxRequestBytes', 1, /the least is 65536/)
    rejects('relay.maxHeapMb', 32, /give 0 \(V8's default\) or 64 to 65536 MB/)
    rejects('keepaliveSeconds', 0, /keepaliveSeconds = 0 .*above 0/)
    rejects('portMappingLifetimeSeconds', 10, /the least is 30/)
    rejects('tcpDialPort', 70_000, /the most is 65535/)
  })

  it('types, choices, addresses', () => {
    rejects('relayServer', 'yes', /relayServer = "yes" .*expected one of auto, on, off/)
    rejects('holePunch', 'true', /holePunch = "true" .*expected true or false/)
    rejects('network', 'Bad Name', /a network name is lower-case letters/)
    rejects('listen', ['/ip4/1.2.3.4/tcp/99999'], /listen\[0\] = .*not a valid multiaddr/)
    rejects('bootstrap', ['/ip4/1.2.3.4/tcp/4001'], /bootstrap\[0\] = .*ending in \/p2p\/PEERID/)
    rejects('portMappingGateway', 'router.local', /an IPv4 address/)
    rejects('metrics', '127.0.0.1:70000', /the port is 0-65535/)
    rejects('udp.stunServers', ['no-port'], /udp\.stunServers\[0\] = .*a UDP STUN server is HOST:PORT/)
  })

  it("'none' and stun: prefixes are read the same from every source", () => {
    assert.deepEqual(validateConfig(withValue('stunServers', ['none'])).stunServers, [])
    assert.deepEqual(validateConfig(withValue('stunServers', ['203.0.113.7:3478'])).stunServers, ['stun:203.0.113.7:3478'])
    assert.deepEqual(validateConfig(withValue('udp.stunServers', ['stun:203.0.113.7:3478'])).udp.stunServers, ['203.0.113.7:3478'])
  })

  it('a key nobody declared is named', () => {
    assert.throws(() => validateConfig({ ...defaultsObject(), relay: { ...(defaultsObject().relay as object), maxCircuit: 3 } }), /relay\.maxCircuit = 3 .*unknown setting "maxCircuit"/)
  })
})
