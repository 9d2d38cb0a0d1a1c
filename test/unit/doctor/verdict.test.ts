// The doctor's verdict logic (src/doctor): RFC 4787 mapping behaviour needs observers at two
// different IPs; many PeerIds at one IP (free to make) count once.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mappingFrom, verdictOf } from '../../../src/doctor/index.ts'

// TEST-NET addresses: none of them is this host's own
const ours = new Set(['192.168.1.10'])

describe('doctor: mapping behaviour from relay reports', () => {
  it('the same public address towards two relay IPs is endpoint-independent, different ones endpoint-dependent', () => {
    assert.equal(mappingFrom([{ observerIp: '198.51.100.1', address: '203.0.113.5:4001' }, { observerIp: '198.51.100.2', address: '203.0.113.5:4001' }], ours).mapping, 'endpoint-independent')
    assert.equal(mappingFrom([{ observerIp: '198.51.100.1', address: '203.0.113.5:4001' }, { observerIp: '198.51.100.2', address: '203.0.113.5:51000' }], ours).mapping, 'endpoint-dependent')
  })

  it('relays at one IP cannot decide: unknown, and the detail says two IPs are needed', () => {
    const v = mappingFrom([{ observerIp: '198.51.100.1', address: '203.0.113.5:4001' }, { observerIp: '198.51.100.1', address: '203.0.113.5:4001' }], ours)
    assert.equal(v.mapping, 'unknown')
    assert.match(v.detail, /two at different IPs/)
  })

  it('relays that see one of our own addresses: no NAT', () => {
    assert.equal(mappingFrom([{ observerIp: '198.51.100.1', address: '192.168.1.10:4001' }], ours).mapping, 'no-nat')
  })

  it('the verdict names cone and symmetric, and advises port mapping when the router offers it but it is off', () => {
    const eim = { mapping: 'endpoint-independent' as const, detail: '' }
    const edm = { mapping: 'endpoint-dependent' as const, detail: '' }
    const cone = verdictOf(eim, eim, [{ protocol: 'upnp', answered: 'yes' }], 'off')
    assert.match(cone.verdict, /cone NAT will reach you directly[^;]*; one behind a symmetric NAT will go through a relay/)
    assert.ok(cone.advice.some(a => /--port-mapping auto/.test(a)))
    assert.match(verdictOf(edm, edm, [], 'auto').verdict, /symmetric/)
  })
})
