/**
 * Issue 11, acceptance 1 (loopback part): `burrow daemon --metrics 127.0.0.1:0` serves
 * Prometheus text at /metrics (checked by a strict parser) with libp2p's series and
 * burrow's; after `burrow send` is acked, the messages counters moved. A non-loopback
 * address is refused without --metrics-public. Daemons are killed by PID in after().
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { createServer } from 'node:net'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { burrow, burrowJson, startDaemon, stopAll, tempHome } from '../helpers/burrow.ts'
import { BURROW_SERIES, parsePrometheusText, scrape, valueOf } from './prom-text.ts'
import type { Libp2p } from '@libp2p/interface'
import type { AddressInfo } from 'node:net'

const clients: Libp2p[] = []
after(async () => {
  await Promise.allSettled(clients.map(async c => c.stop()))
  await stopAll()
})

const HOP = '/libp2p/circuit/relay/0.2.0/hop'
interface HopCodec { decode: (b: Uint8Array) => { status?: string } }
// the relay's own protobuf codec (the package exports only its root)
const pb = await import(new URL('./pb/index.js', import.meta.resolve('@libp2p/circuit-relay-v2')).href) as { HopMessage: HopCodec & { Type: Record<string, string> } }

/** A bare libp2p peer asks `relay` for a reservation; the relay's status answer. */
async function reserve (relay: string): Promise<string | undefined> {
  const node = await createLibp2p({ addresses: { listen: [] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() } })
  clients.push(node)
  const stream = await node.dialProtocol(multiaddr(relay), HOP)
  const s = pbStream(stream).pb(pb.HopMessage as unknown as Parameters<ReturnType<typeof pbStream>['pb']>[0])
  await s.write({ type: pb.HopMessage.Type.RESERVE })
  const res = await s.read() as { status?: string }
  await stream.close()
  return res.status
}

function metricsUrl (output: string): string {
  const url = /^metrics: Prometheus text at (http:\/\/\S+\/metrics)/m.exec(output)?.[1]
  if (url == null) throw new Error(`the daemon did not say where metrics are served:\n${output}`)
  return url
}

describe('burrow daemon --metrics', () => {
  it('serves /metrics as Prometheus text with libp2p and burrow series; a sent and acked message moves the counters', async () => {
    const b = await startDaemon('metrics-b')
    const a = await startDaemon('metrics-a', { bootstrap: [b.address], args: ['--metrics', '127.0.0.1:0'] })
    const url = metricsUrl(a.output())
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)

    const before = await scrape(url)
    // libp2p's own (@libp2p/prometheus-metrics) and the Node.js process series beside burrow's
    assert.ok([...before.keys()].some(n => n.startsWith('libp2p_')), `libp2p series in ${[...before.keys()].join(' ')}`)
    assert.ok(before.has('nodejs_memory_usage_bytes'))
    for (const name of BURROW_SERIES) assert.ok(before.has(name), `${name} is served`)
    assert.equal(before.get('burrow_holepunch_attempts_total')?.type, 'counter')
    assert.equal(before.get('burrow_relayed_to_direct_seconds')?.type, 'histogram')
    assert.equal(before.get('burrow_reachability')?.samples.filter(s => s.value === 1).length, 1, 'one reachability state is current')
    assert.equal(valueOf(before, 'burrow_messages_acked_total'), 0)
    assert.equal(valueOf(before, 'burrow_inbox_quota_bytes'), 256 * 1024 * 1024)

    const sent = await burrow(a.home, ['send', b.peerId, 'counted'])
    assert.equal(sent.code, 0, sent.stderr)

    const afterSend = await scrape(url)
    assert.equal(valueOf(afterSend, 'burrow_messages_acked_total'), 1)
    assert.equal(valueOf(afterSend, 'burrow_messages_sent_total'), 1)
    assert.equal(valueOf(afterSend, 'burrow_messages_queued_total'), 1)
    assert.equal(valueOf(afterSend, 'burrow_messages_failed_total'), 0)
    assert.equal(valueOf(afterSend, 'burrow_outbox_messages', { state: 'pending' }), 0)
    assert.ok((valueOf(afterSend, 'burrow_dht_routing_table_peers') ?? 0) >= 1, 'B is in the routing table')
    // status tells the same table size (it said 0 before metrics read the table)
    const status = await burrowJson<{ dht: { routingTable: number } }>(a.home, ['status'])
    assert.equal(status.dht.routingTable, valueOf(afterSend, 'burrow_dht_routing_table_peers'))

    const other = await fetch(url.replace(/\/metrics$/, '/'), { signal: AbortSignal.timeout(10_000) })
    assert.equal(other.status, 404)
    await other.body?.cancel()
  })

  it('a relay counts the reservations it serves and its refusals by reason', async () => {
    const relay = await startDaemon('metrics-relay', { args: ['--relay-server', 'on', '--metrics', '127.0.0.1:0'], env: { BURROW_RELAY_MAX_RESERVATIONS: '1' } })
    const url = metricsUrl(relay.output())
    assert.equal(valueOf(await scrape(url), 'burrow_relay_reservations_served'), 0)
    assert.equal(await reserve(relay.address), 'OK')
    assert.equal(await reserve(relay.address), 'RESERVATION_REFUSED')
    const m = await scrape(url)
    assert.equal(valueOf(m, 'burrow_relay_reservations_served'), 1)
    assert.equal(valueOf(m, 'burrow_relay_refusals_total', { reason: 'maxReservations' }), 1)
    assert.equal(valueOf(m, 'burrow_relay_refusals_total', { reason: 'maxPerIp' }), 0)
  })

  it('refuses a non-loopback address without --metrics-public, naming the flag', async () => {
    const r = await burrow(await tempHome('metrics-public'), ['daemon', '--network', 'test', '--listen', '/ip4/127.0.0.1/tcp/0', '--metrics', '0.0.0.0:0'], { timeoutMs: 30_000 })
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /^burrow: ERR_INVALID_CONFIG: metrics = "0\.0\.0\.0:0" .*--metrics-public/m)
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line')
  })
})

describe('burrow daemon --metrics on a taken port', () => {
  it('exits with one line naming the address and what to do', async () => {
    const taken = createServer()
    await new Promise<void>(resolve => { taken.listen(0, '127.0.0.1', resolve) })
    try {
      const port = (taken.address() as AddressInfo).port
      const r = await burrow(await tempHome('metrics-taken'), ['daemon', '--network', 'test', '--listen', '/ip4/127.0.0.1/tcp/0', '--metrics', `127.0.0.1:${port}`], { timeoutMs: 30_000 })
      assert.equal(r.code, 1)
      assert.equal(r.stderr, `burrow: ERR_METRICS_LISTEN: cannot serve metrics on 127.0.0.1:${port} (EADDRINUSE): pick another --metrics HOST:PORT, or leave it off\n`)
    } finally {
      taken.close()
    }
  })
})

describe('the strict Prometheus text parser of these tests', () => {
  it('rejects what a Prometheus server would reject', () => {
    assert.throws(() => parsePrometheusText('x 1\n'), /without a TYPE/)
    assert.throws(() => parsePrometheusText('# TYPE x counter\nx{a=1} 1\n'), /label syntax/)
    assert.throws(() => parsePrometheusText('# TYPE x counter\nx one\n'), /bad value/)
    assert.throws(() => parsePrometheusText('# TYPE x counter\nx 1'), /line feed/)
    assert.throws(() => parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'), /out of order/)
    assert.equal(valueOf(parsePrometheusText('# HELP x a "help"\n# TYPE x gauge\nx{a="q\\"",b="2"} 3.5\n'), 'x', { a: 'q"' }), 3.5)
  })
})
