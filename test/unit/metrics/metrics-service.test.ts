// burrow's metrics are a libp2p service started on its own with fake components: it
// serves /metrics on loopback once started, its series read the other services (punch
// events, message totals, the DHT's table), a node without a relay gate reports 0 served
// reservations, and stop() closes the port.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { TypedEventEmitter } from '@libp2p/interface'
import { burrowMetrics, createRegistry } from '../../../src/metrics/index.ts'
import { scrape, valueOf } from '../../metrics/prom-text.ts'
import { logger } from '../services/fakes.ts'

/** libp2p's components throw on a service the node lacks (MissingServiceError); so does this fake. */
function withoutRelayGate<T extends object> (components: T): T {
  return new Proxy(components, {
    get (target, prop, receiver) {
      if (prop === 'relayGate') throw Object.assign(new Error('relayGate not set'), { name: 'MissingServiceError' })
      return Reflect.get(target, prop, receiver)
    }
  })
}

describe('burrow\'s metrics, started on their own', () => {
  it('serve the series the other services feed on loopback, and close the port on stop', async () => {
    const holePunch = new TypedEventEmitter<Record<string, CustomEvent<unknown>>>()
    const udpPunch = Object.assign(new TypedEventEmitter<Record<string, CustomEvent<unknown>>>(), { probesSent: 3 })
    const messaging = Object.assign(new TypedEventEmitter<Record<string, CustomEvent<unknown>>>(), {
      totals: { sent: 5, queued: 2 },
      outbox: async () => [{ state: 'pending' }, { state: 'failed' }, { state: 'pending' }],
      usage: () => ({ inbox: { bytes: 100, maxBytes: 1000, count: 1, maxCount: 10 } })
    })
    const components = withoutRelayGate({
      holePunch,
      udpPunch,
      messaging,
      portMapper: { reachability: () => undefined, portMappings: () => [{ protocol: 'upnp', confirmed: true }] },
      reachability: { current: { reachability: 'private' } },
      relayClient: { reservations: () => [{}, {}] },
      dhtMode: { status: () => ({ routingTable: 7 }) },
      logger
    })
    const svc = burrowMetrics({ registry: createRegistry(), address: '127.0.0.1:0' })(components as never)
    svc.start()
    await svc.afterStart()
    try {
      const url = svc.url
      assert.match(url ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
      holePunch.safeDispatchEvent('holepunch:attempt', { detail: { outcome: 'direct', sinceRelayedMs: 800 } })
      messaging.safeDispatchEvent('message:delivered', { detail: {} })
      const m = await scrape(url as string)
      assert.equal(valueOf(m, 'burrow_holepunch_attempts_total', { method: 'tcp', outcome: 'direct' }), 1)
      assert.equal(valueOf(m, 'burrow_messages_acked_total'), 1)
      assert.equal(valueOf(m, 'burrow_messages_sent_total'), 5)
      assert.equal(valueOf(m, 'burrow_outbox_messages', { state: 'pending' }), 2)
      assert.equal(valueOf(m, 'burrow_dht_routing_table_peers'), 7)
      assert.equal(valueOf(m, 'burrow_relay_reservations_held'), 2)
      assert.equal(valueOf(m, 'burrow_relay_reservations_served'), 0, 'no relay gate on this node: 0, not an error')
      assert.equal(valueOf(m, 'burrow_reachability', { state: 'private' }), 1)
      assert.equal(valueOf(m, 'burrow_port_mappings', { protocol: 'upnp', state: 'confirmed' }), 1)
      assert.equal(valueOf(m, 'burrow_udppunch_probes_sent_total'), 3)
      await svc.stop()
      assert.equal(svc.url, undefined)
      await assert.rejects(fetch(url as string, { signal: AbortSignal.timeout(5_000) }), 'the port is closed after stop')
    } finally {
      await svc.stop()
    }
  })
})
