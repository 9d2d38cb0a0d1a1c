/** The one path served; anything else gets 404 (the Prometheus convention, `metrics_path` defaults to it). */
export const METRICS_PATH = '/metrics'

/** Prometheus text exposition format 0.0.4, what prom-client renders. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** Open sockets at once: a scraper or two and a curl by hand; more is someone hammering the port. */
export const MAX_METRICS_CONNECTIONS = 16

/** A scrape must be done by then; Prometheus' own default scrape_timeout is 10 s. */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000

/**
 * Buckets of the relayed → direct histogram, seconds: a DCUtR punch is one RTT plus the
 * SYN exchange (under a second on most paths), the UDP path starts after the TCP one and
 * ICE may take its 30 s timeout; beyond two minutes it is +Inf.
 */
export const RELAYED_TO_DIRECT_BUCKETS_SECONDS = [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120]
