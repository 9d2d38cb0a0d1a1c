import { BurrowMetrics } from './burrow.js'
import { MetricsServer } from './server.js'
import type { MetricsSources } from './burrow.js'
import type { Registry } from 'prom-client'
import type { ComponentLogger, Logger, Startable } from '@libp2p/interface'

/** The services burrow's series read (see MetricsSources); each is another service of the node. */
export interface BurrowMetricsComponents {
  holePunch: MetricsSources['holePunch']
  udpPunch: MetricsSources['udpPunch']
  messaging: MetricsSources['messages'] & {
    totals: { sent: number, queued: number }
    outbox: () => Promise<Array<{ state: string }>>
    usage: () => { inbox: { bytes: number, maxBytes: number, count: number, maxCount: number } }
  }
  portMapper: {
    reachability: () => { reachability: string } | undefined
    portMappings: () => Array<{ protocol: string, confirmed: boolean }>
  }
  reachability: { current: { reachability: string } }
  relayClient: { reservations: () => unknown[] }
  dhtMode: { status: () => { routingTable: number } }
  /** only on a node that may offer relay service (libp2p throws on reading a service it lacks) */
  relayGate?: { reservationsServed: number, refusals: Map<string, number> }
  logger: ComponentLogger
}

export interface BurrowMetricsInit {
  /** the registry libp2p's own metrics use too (one per node) */
  registry: Registry
  /** HOST:PORT to serve `GET /metrics` on (config `metrics`) */
  address: string
}

/**
 * Config `metrics`: burrow's series (BurrowMetrics) in the node's registry, and the
 * /metrics server. The series subscribe to the punch and message events at start; the
 * server listens once every service has started (afterStart), as the node did.
 */
export class BurrowMetricsService implements Startable {
  readonly series: BurrowMetrics
  private readonly server: MetricsServer
  private readonly log: Logger

  constructor (components: BurrowMetricsComponents, init: BurrowMetricsInit) {
    this.log = components.logger.forComponent('burrow:metrics')
    const { messaging, portMapper } = components
    const relayGate = (): BurrowMetricsComponents['relayGate'] => {
      try {
        return components.relayGate
      } catch {
        return undefined
      }
    }
    this.series = new BurrowMetrics(init.registry, {
      holePunch: components.holePunch,
      udpPunch: components.udpPunch,
      messages: messaging,
      messageTotals: () => messaging.totals,
      outbox: async () => messaging.outbox(),
      inbox: () => messaging.usage().inbox,
      reachability: () => (portMapper.reachability() ?? components.reachability.current).reachability,
      portMappings: () => portMapper.portMappings(),
      reservationsHeld: () => components.relayClient.reservations().length,
      relayServer: () => {
        const gate = relayGate()
        return gate != null ? { reservations: gate.reservationsServed, refusals: gate.refusals } : undefined
      },
      routingTableSize: () => components.dhtMode.status().routingTable
    })
    this.server = new MetricsServer({ address: init.address, registry: init.registry, log: components.logger.forComponent('burrow:metrics:server') })
  }

  readonly [Symbol.toStringTag] = 'burrow:metrics'

  /** `http://HOST:PORT/metrics` once serving, with the port actually bound. */
  get url (): string | undefined {
    return this.server.url
  }

  start (): void {
    this.series.start()
  }

  async afterStart (): Promise<void> {
    this.log('series registered')
    await this.server.start()
  }

  async stop (): Promise<void> {
    this.series.stop()
    await this.server.stop()
  }
}

export function burrowMetrics (init: BurrowMetricsInit): (components: BurrowMetricsComponents) => BurrowMetricsService {
  return (components) => new BurrowMetricsService(components, init)
}
