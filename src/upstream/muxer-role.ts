import { defaultLogger } from '@libp2p/logger'
import { changed } from './patch.js'
import type { UpstreamPatch } from './patch.js'
import type { DialTransportOptions } from '@libp2p/interface'

/**
 * A TCP simultaneous open (DCUtR) where our side must be the server of the upgrade. The
 * upgrader honours `initiator: false` for multistream-select and Noise, but yamux takes its
 * role from the raw connection's `direction` (`client = direction === 'outbound'`), which
 * is 'outbound' for every dial: both ends would be clients ("Both endpoints are clients").
 * So the raw connection is turned 'inbound' before the upgrade starts. nim-libp2p fixed the
 * same defect the same way (vacp2p/nim-libp2p#994).
 */
export const MUXER_ROLE: UpstreamPatch = {
  id: 'muxer-role-direction',
  package: '@chainsafe/libp2p-yamux',
  writtenFor: '8.0.x',
  issue: 'none filed for js-libp2p: yamux takes client/server from the raw connection direction, not the upgrade role (same defect: https://github.com/vacp2p/nim-libp2p/pull/994)',
  what: 'a punch dial that must be the upgrade\'s server flips maConn.direction to inbound before upgradeOutbound',
  file: 'src/upstream/muxer-role.ts'
}

type Yamux = (init: { enableKeepAlive: boolean }) => (components: { logger: ReturnType<typeof defaultLogger> }) => { createStreamMuxer: (stream: unknown) => unknown }

/**
 * Checks that a muxer made over a stream whose `direction` is 'inbound' is the server
 * (`client` false, even stream ids) and over an 'outbound' one the client, on fake
 * streams in this process. UPSTREAM_CHANGED otherwise.
 */
export function checkMuxerRole (yamux: unknown, installed?: string): void {
  if (typeof yamux !== 'function') throw changed(MUXER_ROLE, 'the yamux() export', installed)
  for (const direction of ['inbound', 'outbound'] as const) {
    let made: unknown
    try {
      // no keep-alive: nothing keeps running after the check
      const factory = (yamux as Yamux)({ enableKeepAlive: false })({ logger: defaultLogger() })
      const stream = Object.assign(new EventTarget(), { direction, log: defaultLogger().forComponent('burrow:upstream:check'), send: () => true })
      made = factory.createStreamMuxer(stream)
    } catch (err) {
      throw changed(MUXER_ROLE, `muxer it can make over a stream with a direction (${(err as Error).message})`, installed)
    }
    const client = (made as { client?: unknown }).client
    if (client !== (direction === 'outbound')) throw changed(MUXER_ROLE, `${direction === 'outbound' ? 'client' : 'server'} muxer over an ${direction} stream (client: ${String(client)})`, installed)
  }
}

/** The dial options of a punch dial whose side is the server of the upgrade (see MUXER_ROLE). */
export function asResponder (options: DialTransportOptions): DialTransportOptions {
  const upgrader = options.upgrader
  const wrapped = Object.create(upgrader) as typeof upgrader
  wrapped.upgradeOutbound = async (maConn, opts) => {
    (maConn as { direction: string }).direction = 'inbound'
    return upgrader.upgradeOutbound(maConn, opts)
  }
  return { ...options, upgrader: wrapped }
}
