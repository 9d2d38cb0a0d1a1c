/**
 * Issue 11: a relay's refusals are events — `relay:refused` with the spec's status and the
 * cap that refused — so an operator sees them in `burrow events` (real hop streams from
 * real libp2p clients to a burrow relay daemon on loopback).
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { burrow as cli, startDaemon, stopAll } from '../helpers/burrow.ts'
import type { BurrowEvent } from '../../dist/index.js'
import type { Libp2p } from '@libp2p/interface'

const HOP = '/libp2p/circuit/relay/0.2.0/hop'

interface HopCodec { Type: Record<string, string> }
// the relay's own protobuf codec (the package exports only its root)
const pb = await import(new URL('./pb/index.js', import.meta.resolve('@libp2p/circuit-relay-v2')).href) as { HopMessage: HopCodec }

async function reserve (node: Libp2p, relay: string): Promise<{ status?: string }> {
  const stream = await node.dialProtocol(multiaddr(relay), HOP)
  const s = pbStream(stream).pb(pb.HopMessage as unknown as Parameters<ReturnType<typeof pbStream>['pb']>[0])
  await s.write({ type: pb.HopMessage.Type.RESERVE })
  const res = await s.read() as { status?: string }
  await stream.close().catch(() => {})
  return res
}

describe('relay refusals in the event stream', () => {
  const clients: Libp2p[] = []
  after(async () => {
    await Promise.all(clients.map(async c => c.stop()))
    await stopAll()
  })

  it('a reservation over relay.maxReservations is told as relay:refused RESERVATION_REFUSED, naming the cap', async () => {
    const relay = await startDaemon('refusing-relay', { args: ['--relay-server', 'on'], env: { BURROW_RELAY_MAX_RESERVATIONS: '1' } })
    for (let i = 0; i < 2; i++) {
      const c = await createLibp2p({ addresses: { listen: [] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() } })
      clients.push(c)
    }
    assert.equal((await reserve(clients[0]!, relay.address)).status, 'OK')
    assert.equal((await reserve(clients[1]!, relay.address)).status, 'RESERVATION_REFUSED')
    const r = await cli(relay.home, ['events', '--json', '--since', '0', '--no-follow'])
    assert.equal(r.code, 0, r.stderr)
    const refused = r.stdout.trim().split('\n').map(l => JSON.parse(l) as BurrowEvent).filter(e => e.type === 'relay:refused')
    assert.equal(refused.length, 1, r.stdout)
    const e = refused[0]
    assert.ok(e?.type === 'relay:refused')
    assert.equal(e.data.status, 'RESERVATION_REFUSED')
    assert.match(e.data.reason, new RegExp(`reservation for ${clients[1]!.peerId.toString()} refused: 1 held \\(relay\\.maxReservations\\)`))
  })
})
