import { BurrowError } from '../errors/index.js'
import { asResponder } from '../upstream/index.js'
import { lazySelect, YAMUX_PROTOCOL } from '../connections/index.js'
import type { DialTransportOptions } from '@libp2p/interface'

/**
 * The version of burrow's fast upgrade of a punched TCP connection that this node speaks,
 * sent in the `burrowUpgrade` field of its DCUtR CONNECT (pb/holepunch.proto). Version 1:
 * B (the DCUtR initiator) is the Noise initiator on every attempt (holepunch.ts,
 * FAST_ROLES), the Noise initiator selects `/noise` lazily and both ends give the upgrader
 * yamux (no muxer negotiation), as the UDX path does (docs/DESIGN.md, The UDX path).
 */
export const FAST_UPGRADE_VERSION = 1

/** How the punched connection is upgraded, and when its steps ended (ms since the epoch). */
export interface PunchUpgrade {
  /**
   * true: both CONNECTs carried FAST_UPGRADE_VERSION, so both ends are burrow and upgrade
   * the same way (lazy /noise select by the Noise initiator, yamux without negotiation);
   * false: the standard libp2p upgrade (any other peer).
   */
  fast: boolean
  /** the upgrader's muxer negotiation began (Noise done); unset when no muxer was negotiated */
  muxStartAt?: number
}

/** The option a punch dial carries to the transport (read by stablePortTcp). */
export interface PunchDialOptions {
  burrowPunch?: PunchUpgrade
}

/** The peer answered our lazy multistream-select proposal with something else. */
export class FastUpgradeError extends BurrowError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_FAST_UPGRADE', message, options)
  }
}

/** Whether both CONNECTs of an exchange ask for the fast upgrade (the decision both ends take alike). */
export function bothFast (ours: number | undefined, theirs: number | undefined): boolean {
  return ours === FAST_UPGRADE_VERSION && theirs === FAST_UPGRADE_VERSION
}

/**
 * The dial options of a punch dial, for the transport: the server side of the upgrade
 * gets a raw connection turned inbound (upstream patch muxer-role-direction); with the fast
 * upgrade the upgrader also gets yamux (`muxerFactory`, no muxer negotiation) and, on the
 * Noise initiator's side, a lazy select of the first connection encrypter (`/noise`): the
 * answer a burrow peer gives is handed to the reader at once, so multistream-select costs
 * no round trip and Noise's first message (an ephemeral key only) follows our proposal in
 * the same flight; the peer's real answer is checked byte for byte as it arrives and any
 * other answer aborts the connection. Noise still authenticates the peer.
 */
export function punchDialOptions (options: DialTransportOptions): DialTransportOptions {
  const punch = (options as PunchDialOptions).burrowPunch
  const responder = (options as { initiator?: boolean }).initiator === false
  const base = responder ? asResponder(options) : options
  if (punch == null) return base
  const upgrader = base.upgrader
  const muxerFactory = punch.fast ? upgrader.getStreamMuxers().get(YAMUX_PROTOCOL) : undefined
  const encrypter = [...upgrader.getConnectionEncrypters().keys()][0]
  const wrapped = Object.create(upgrader) as typeof upgrader
  wrapped.upgradeOutbound = async (maConn, opts) => {
    if (punch.fast && !responder && encrypter != null) {
      lazySelect(maConn, encrypter, () => new FastUpgradeError(`the peer answered our ${encrypter} proposal with something else although its DCUtR CONNECT asked for burrow's fast upgrade: the punched connection is closed`))
    }
    const onProgress = opts.onProgress
    return upgrader.upgradeOutbound(maConn, {
      ...opts,
      ...(muxerFactory != null ? { muxerFactory } : {}),
      onProgress: (evt) => {
        if (evt.type.startsWith('upgrader:multiplex-')) punch.muxStartAt = Date.now()
        onProgress?.(evt)
      }
    })
  }
  return { ...base, upgrader: wrapped }
}

