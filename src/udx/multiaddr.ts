/**
 * The UDX multiaddr: `/ip4/A/udp/P/x-burrow-udx` (or `/ip6/…`). multiaddr has no code for
 * UDX, so burrow registers one from the private-use range with @multiformats/multiaddr v13's
 * protocol registry (a process-wide table; registering is idempotent).
 * @see docs/DESIGN.md, UDX path
 */
import { multiaddr, registry } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { UDX_PROTOCOL_CODE, UDX_PROTOCOL_NAME } from './constants.js'

/** Adds `x-burrow-udx` to the multiaddr registry once per process. */
export function registerUdxProtocol (): void {
  try {
    if (registry.getProtocol(UDX_PROTOCOL_NAME).code === UDX_PROTOCOL_CODE) return
  } catch {
    // not registered yet
  }
  registry.addProtocol({ code: UDX_PROTOCOL_CODE, name: UDX_PROTOCOL_NAME, size: 0 })
}

registerUdxProtocol()

/** Host and port of an exact UDX multiaddr, or undefined for any other address (port 0 only with `anyPort`, for listening). */
export function udxHostPort (ma: Multiaddr, options: { anyPort?: boolean } = {}): { host: string, port: number, family: 4 | 6 } | undefined {
  const c = ma.getComponents()
  if (c.length !== 3) return undefined
  const [ip, udp, udx] = c
  if (ip == null || udp == null || udx == null) return undefined
  if ((ip.name !== 'ip4' && ip.name !== 'ip6') || ip.value == null) return undefined
  if (udp.name !== 'udp' || udp.value == null || udx.name !== UDX_PROTOCOL_NAME) return undefined
  const port = Number(udp.value)
  if (!Number.isInteger(port) || port < (options.anyPort === true ? 0 : 1) || port > 65535) return undefined
  return { host: ip.value, port, family: ip.name === 'ip4' ? 4 : 6 }
}

/** `/ip4|ip6/HOST/udp/PORT/x-burrow-udx` */
export function udxMultiaddr (host: string, port: number): Multiaddr {
  return multiaddr(`/${host.includes(':') ? 'ip6' : 'ip4'}/${host}/udp/${port}/${UDX_PROTOCOL_NAME}`)
}

/** Whether a multiaddr is a UDX address (possibly with a trailing `/p2p/…`). */
export function isUdxAddress (ma: Multiaddr): boolean {
  return ma.getComponents().some(c => c.name === UDX_PROTOCOL_NAME)
}
