import { changed, field, importInternal } from './patch.js'
import type { UpstreamPatch } from './patch.js'

/**
 * @libp2p/circuit-relay-v2 keeps the circuit duration in milliseconds (it enforces it with
 * AbortSignal.timeout) and writes that same number into the `Limit.duration` field, which
 * libp2p/specs relay/circuit-v2.md defines in seconds: a 2-minute limit reached clients as
 * 120000 seconds. We keep milliseconds for enforcement and convert to seconds where the
 * Limit message is encoded.
 */
export const RELAY_LIMIT_CODEC: UpstreamPatch = {
  id: 'relay-limit-codec',
  package: '@libp2p/circuit-relay-v2',
  writtenFor: '4.2.x',
  issue: 'none filed: the server writes Limit.duration in milliseconds, the spec says seconds',
  what: 'Limit.codec().encode (dist/src/pb/index.js) writes duration in seconds',
  file: 'src/upstream/relay-limit-codec.ts'
}

export interface LimitCodec { encode: (obj: { duration?: number, data?: bigint }, w: unknown, opts?: unknown) => void }

/** The relay's Limit codec in its protobuf module, or UPSTREAM_CHANGED naming what is missing. */
export function checkRelayLimitCodec (pb: unknown, installed?: string): LimitCodec {
  const codecOf = field(field(pb, 'Limit'), 'codec')
  if (typeof codecOf !== 'function') throw changed(RELAY_LIMIT_CODEC, 'Limit.codec in its protobuf module', installed)
  const codec = (codecOf as () => unknown)()
  if (typeof field(codec, 'encode') !== 'function') throw changed(RELAY_LIMIT_CODEC, 'Limit.codec().encode in its protobuf module', installed)
  return codec as LimitCodec
}

let patched = false

/**
 * Makes the relay's Limit message carry seconds (once per process: the codec is shared by
 * every relay in it). Throws UPSTREAM_CHANGED when the codec is not where it was.
 */
export async function patchRelayLimitCodec (): Promise<void> {
  if (patched) return
  const codec = checkRelayLimitCodec(await importInternal(RELAY_LIMIT_CODEC, './pb/index.js'))
  patched = true
  const encode = codec.encode.bind(codec)
  codec.encode = (obj, w, opts) => {
    const duration = obj.duration != null && obj.duration >= 1000 ? Math.ceil(obj.duration / 1000) : obj.duration
    encode({ ...obj, duration }, w, opts)
  }
}
