/**
 * The relay server's limits come from config and reach clients as the spec says:
 * circuit duration in seconds (the stock server sent milliseconds), bytes per
 * circuit, a cap on reservations and on connections from one IP.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { startDaemon, stopAll } from '../helpers/burrow.ts'
import type { Daemon } from '../helpers/burrow.ts'
import type { Libp2p } from '@libp2p/interface'

const HOP = '/libp2p/circuit/relay/0.2.0/hop'

interface HopCodec {
  encode: (m: unknown) => Uint8Array
  decode: (b: Uint8Array) => { type?: string, status?: string, limit?: { duration?: number, data?: bigint } }
}
// the relay's own protobuf codec (the package exports only its root)
const pb = await import(new URL('./pb/index.js', import.meta.resolve('@libp2p/circuit-relay-v2')).href) as { HopMessage: HopCodec & { Type: Record<string, string> } }

async function client (): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
}

async function reserve (node: Libp2p, relay: string): Promise<ReturnType<HopCodec['decode']>> {
  const stream = await node.dialProtocol(multiaddr(relay), HOP)
  const s = pbStream(stream).pb(pb.HopMessage as unknown as Parameters<ReturnType<typeof pbStream>['pb']>[0])
  await s.write({ type: pb.HopMessage.Type.RESERVE })
  const res = await s.read() as ReturnType<HopCodec['decode']>
  await stream.close()
  return res
}

describe('relay server limits', () => {
  let relay: Daemon
  const clients: Libp2p[] = []

  before(async () => {
    relay = await startDaemon('relay', {
      args: ['--relay-server', 'on'],
      env: { BURROW_RELAY_CIRCUIT_SECONDS: '90', BURROW_RELAY_CIRCUIT_BYTES: '65536', BURROW_RELAY_MAX_RESERVATIONS: '2', BURROW_RELAY_MAX_PER_IP: '4' }
    })
  })
  after(async () => {
    await Promise.all(clients.map(async c => c.stop()))
    await stopAll()
  })

  it('tells clients the circuit limits from config, duration in seconds', async () => {
    const c = await client()
    clients.push(c)
    const res = await reserve(c, relay.address)
    assert.equal(res.status, 'OK')
    assert.equal(res.limit?.duration, 90)
    assert.equal(res.limit?.data, 65536n)
  })

  it('refuses reservations beyond relay.maxReservations', async () => {
    const c2 = await client()
    clients.push(c2)
    assert.equal((await reserve(c2, relay.address)).status, 'OK')
    const c3 = await client()
    clients.push(c3)
    assert.equal((await reserve(c3, relay.address)).status, 'RESERVATION_REFUSED')
  })

  it('refuses connections from one IP beyond relay.maxPerIp, and keeps serving', async () => {
    // three clients are connected from 127.0.0.1 already; the fourth fits, the fifth does not
    const c4 = await client()
    clients.push(c4)
    await c4.dial(multiaddr(relay.address))
    const c5 = await client()
    clients.push(c5)
    await assert.rejects(c5.dial(multiaddr(relay.address)))
    assert.equal(relay.child.exitCode, null)
  })
})
