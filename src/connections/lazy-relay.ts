import { BurrowError } from '../errors/index.js'
import { lazySelect } from './multistream.js'
import type { Transport, Upgrader } from '@libp2p/interface'

/** The peer at the far end of a relayed connection we dialled answered our `/noise` proposal with something else. */
export class LazyRelayNoiseError extends BurrowError {
  constructor (message: string) {
    super('ERR_RELAYED_NOISE', message)
  }
}

/**
 * The circuit relay transport, with the connections it dials upgraded one round trip
 * sooner: the dialler selects the connection encrypter (`/noise`, the only one burrow
 * speaks) lazily — multistream-select's proposal and Noise's first message go out in one
 * flight instead of waiting a round trip over the relay for the answer (multistream-select
 * lets a dialler that proposes one protocol send its data right behind it; every libp2p
 * listener reads them in order). The peer's answer is still checked byte for byte; a peer
 * that does not speak `/noise` could not have been reached anyway and gets a one-line error.
 *
 * Why: a relayed connection is upgraded over two hops; the side that receives it (the
 * DCUtR initiator) can start the hole punch only once its upgrade is done, so each round
 * trip of it is a round trip more from relayed to direct (1 of ~6.7 path RTTs at 100 ms one
 * way, bench time-to-direct). Connections the transport receives are upgraded as before.
 */
export function lazyNoiseCircuitTransport<C extends { upgrader: Upgrader }> (factory: (components: C) => Transport): (components: C) => Transport {
  return (components: C) => {
    let wrapped: Upgrader | undefined
    let wrappedOf: Upgrader | undefined
    const view = Object.create(components, {
      upgrader: {
        get: () => {
          const upgrader = components.upgrader
          if (wrapped === undefined || wrappedOf !== upgrader) {
            wrapped = lazyNoiseUpgrader(upgrader)
            wrappedOf = upgrader
          }
          return wrapped
        }
      }
    }) as C
    return factory(view)
  }
}

/** `upgrader`, with `upgradeOutbound` selecting the first connection encrypter lazily. */
export function lazyNoiseUpgrader (upgrader: Upgrader): Upgrader {
  const upgradeOutbound: Upgrader['upgradeOutbound'] = async (maConn, opts) => {
    const encrypter = [...upgrader.getConnectionEncrypters().keys()][0]
    if (encrypter != null && (opts as { skipEncryption?: boolean } | undefined)?.skipEncryption !== true) {
      lazySelect(maConn, encrypter, () => new LazyRelayNoiseError(`the peer answered our ${encrypter} proposal over the relay with something else: it does not speak ${encrypter}, which burrow needs; the relayed connection is closed`))
    }
    return upgrader.upgradeOutbound(maConn, opts)
  }
  return new Proxy(upgrader, {
    get (target, prop) {
      if (prop === 'upgradeOutbound') return upgradeOutbound
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}
