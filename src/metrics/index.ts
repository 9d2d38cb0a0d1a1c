/**
 * Prometheus metrics: libp2p's own (`@libp2p/prometheus-metrics`, into a registry of
 * this node's) and burrow's series (BurrowMetrics), served on `GET /metrics` by
 * MetricsServer at config `metrics` (loopback unless `metricsPublic`).
 */
import { Registry } from 'prom-client'

export { BurrowMetrics } from './burrow.js'
export type { MetricsSources } from './burrow.js'
export { MetricsServer } from './server.js'
export { BurrowMetricsService, burrowMetrics } from './service.js'
export type { BurrowMetricsComponents, BurrowMetricsInit } from './service.js'
export type { MetricsServerInit } from './server.js'
export { MetricsListenError } from './errors.js'
export * from './constants.js'
export type { Registry }

/** A registry of this node's own: two nodes in one process keep their series apart. */
export function createRegistry (): Registry {
  return new Registry()
}
