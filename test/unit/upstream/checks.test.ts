// Patches of dependencies (src/upstream): each has a check that, when the shape it patches
// is gone (a dependency upgrade moved it), stops the start with one line naming the patch,
// the range it was written for and the installed version, instead of failing quietly.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { yamux } from '@chainsafe/libp2p-yamux'
import {
  UPSTREAM_PATCHES, UpstreamChangedError, checkUpstream, installedVersion, inRange,
  checkRelayLimitCodec, checkRelayHopPb, checkRelayHopServer, checkReservationStore, checkMuxerRole,
  checkAutoNatV2Client, checkAutoNatV1Server, checkKadDhtRpc, checkConnectionManager, RELAY_TRANSPORT_TAG
} from '../../../src/upstream/index.ts'

const relayPb = await import(new URL('./pb/index.js', import.meta.resolve('@libp2p/circuit-relay-v2')).href) as Record<string, unknown>

/** Asserts `fn` throws the one-line failure of patch `id`, naming `missing`. */
function assertChanged (fn: () => unknown, id: string, missing: string): void {
  const patch = UPSTREAM_PATCHES.find(p => p.id === id)
  assert.ok(patch != null, `no patch ${id}`)
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UpstreamChangedError)
    assert.equal(err.code, 'UPSTREAM_CHANGED')
    assert.equal(err.patch, id)
    assert.equal(err.installed, '9.9.9')
    assert.ok(!err.message.includes('\n'), 'one line')
    assert.ok(err.message.startsWith(`patch ${id} written for ${patch.package} ${patch.writtenFor} finds no ${missing}`), err.message)
    assert.match(err.message, / in 9\.9\.9; pin .+ or update src\/upstream\//)
    return true
  })
}

describe('dependency patches fail loudly when the shape they patch is gone', () => {
  it('every patch names its package, the range it was written for, an upstream issue and its file', () => {
    assert.ok(UPSTREAM_PATCHES.length >= 6)
    for (const p of UPSTREAM_PATCHES) {
      assert.match(p.writtenFor, /^\d+\.(\d+\.)?x$/, p.id)
      assert.ok(p.issue.startsWith('https://github.com/') || p.issue.startsWith('none filed'), p.id)
      assert.match(p.file, /^src\/upstream\/[a-z0-9-]+\.ts$/, p.id)
      assert.notEqual(installedVersion(p.package), 'unknown', `${p.package} is installed`)
    }
  })

  it('each patch written for the installed version range (an upgrade shows up here first)', () => {
    for (const p of UPSTREAM_PATCHES) assert.ok(inRange(installedVersion(p.package), p.writtenFor), `${p.id}: ${p.package} ${installedVersion(p.package)} is outside ${p.writtenFor}`)
    assert.equal(inRange('4.3.0', '4.2.x'), false)
    assert.equal(inRange('4.2.13', '4.2.x'), true)
  })

  it('relay-limit-codec: a relay protobuf module without Limit.codec().encode', () => {
    assert.doesNotThrow(() => checkRelayLimitCodec(relayPb))
    assertChanged(() => checkRelayLimitCodec({ HopMessage: relayPb.HopMessage }, '9.9.9'), 'relay-limit-codec', 'Limit.codec')
    assertChanged(() => checkRelayLimitCodec({ Limit: { codec: () => ({ decode: () => ({}) }) } }, '9.9.9'), 'relay-limit-codec', 'Limit.codec().encode')
  })

  it('relay-hop-handler: a protobuf module without the hop codec or statuses, a server without handleHopProtocol', () => {
    assert.doesNotThrow(() => checkRelayHopPb(relayPb))
    assertChanged(() => checkRelayHopPb({ Status: relayPb.Status }, '9.9.9'), 'relay-hop-handler', 'HopMessage.encode/decode')
    assertChanged(() => checkRelayHopPb({ HopMessage: relayPb.HopMessage, Status: { RESERVATION_REFUSED: 'RESERVATION_REFUSED' } }, '9.9.9'), 'relay-hop-handler', 'Status.RESOURCE_LIMIT_EXCEEDED')
    assertChanged(() => checkRelayHopServer({ reservations: new Map() }, '9.9.9'), 'relay-hop-handler', 'handleHopProtocol on the relay server service')
  })

  it('relay-reservation-store: no tagged relay transport, or one without reservationStore', () => {
    const store = { getReservation: () => undefined, hasReservation: () => false }
    assert.equal(checkReservationStore([{}, { [Symbol.toStringTag]: RELAY_TRANSPORT_TAG, reservationStore: store }]), store)
    assertChanged(() => checkReservationStore([{ [Symbol.toStringTag]: '@libp2p/tcp' }], '9.9.9'), 'relay-reservation-store', `transport tagged ${RELAY_TRANSPORT_TAG}`)
    assertChanged(() => checkReservationStore([{ [Symbol.toStringTag]: RELAY_TRANSPORT_TAG, store }], '9.9.9'), 'relay-reservation-store', 'reservationStore.getReservation')
  })

  it('muxer-role-direction: the installed yamux takes its role from the direction; one that does not is caught', () => {
    assert.doesNotThrow(() => { checkMuxerRole(yamux) })
    // a yamux whose muxer is always the client, whatever the direction (the shape the patch relies on is gone)
    const stockYamux = yamux as unknown as (init: object) => (components: object) => { createStreamMuxer: (stream: unknown) => unknown }
    const alwaysClient = (init: object) => (components: object) => {
      const factory = stockYamux(init)(components)
      return { createStreamMuxer: (stream: { direction: string }) => { stream.direction = 'outbound'; return factory.createStreamMuxer(stream) } }
    }
    assertChanged(() => { checkMuxerRole(alwaysClient, '9.9.9') }, 'muxer-role-direction', 'server muxer over an inbound stream')
    assertChanged(() => { checkMuxerRole(undefined, '9.9.9') }, 'muxer-role-direction', 'the yamux() export')
  })

  it('autonat-v2-dial-back: an AutoNAT v2 service without client.verifyExternalAddresses', () => {
    assertChanged(() => checkAutoNatV2Client({ client: { queue: { onIdle: async () => {} } } }, '9.9.9'), 'autonat-v2-dial-back', 'client.verifyExternalAddresses')
    assertChanged(() => checkAutoNatV2Client({ client: { verifyExternalAddresses: async () => {} } }, '9.9.9'), 'autonat-v2-dial-back', 'client.queue.onIdle')
    assertChanged(() => checkAutoNatV2Client({ client: { verifyExternalAddresses: async () => {}, queue: { onIdle: async () => {} }, dialResults: {} } }, '9.9.9'), 'autonat-v2-dial-back', 'client.dialResults')
  })

  it('autonat-v1-server-only: an AutoNAT v1 service without handleIncomingAutonatStream', () => {
    assertChanged(() => checkAutoNatV1Server({ start: async () => {} }, '9.9.9'), 'autonat-v1-server-only', 'handleIncomingAutonatStream')
  })

  it('kad-dht-inbound-stream: a kad-dht service without rpc.onIncomingStream', () => {
    assert.doesNotThrow(() => checkKadDhtRpc({ rpc: { onIncomingStream: async () => {} } }))
    assertChanged(() => checkKadDhtRpc({ rpc: {} }, '9.9.9'), 'kad-dht-inbound-stream', 'rpc.onIncomingStream')
    assertChanged(() => checkKadDhtRpc({}, '9.9.9'), 'kad-dht-inbound-stream', 'rpc.onIncomingStream')
  })

  it('the start-time check stops at the first patch an enabled capability needs, and skips those of capabilities that are off', async () => {
    const needs = { relayServer: false, relayClient: true, holePunch: false, portMapping: false }
    await assert.rejects(checkUpstream({ services: {}, transports: [] }, needs), (err: Error) => {
      assert.ok(err instanceof UpstreamChangedError)
      assert.match(err.message, /^patch relay-reservation-store written for @libp2p\/circuit-relay-v2 4\.2\.x finds no transport tagged/)
      assert.ok(err.message.includes(` in ${installedVersion('@libp2p/circuit-relay-v2')};`))
      return true
    })
    // the same node without reservations (e.g. LAN-only): nothing to check, it starts
    await checkUpstream({ services: {}, transports: [] }, { ...needs, relayClient: false })
    await assert.rejects(checkUpstream({ services: { autoNAT: {} }, transports: [] }, { ...needs, relayClient: false, portMapping: true }), { code: 'UPSTREAM_CHANGED', patch: 'autonat-v2-dial-back' })
  })

  it('connection-choice: a connection manager without openConnection or getConnections', () => {
    const manager = { openConnection: async () => {}, getConnections: () => [] }
    assert.doesNotThrow(() => checkConnectionManager(manager))
    assertChanged(() => checkConnectionManager({ getConnections: () => [] }, '9.9.9'), 'connection-choice', 'openConnection on the connection manager')
    assertChanged(() => checkConnectionManager({ openConnection: async () => {} }, '9.9.9'), 'connection-choice', 'getConnections on the connection manager')
  })
})
