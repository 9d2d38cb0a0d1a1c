/**
 * An abort signal that follows other signals until it is disposed.
 *
 * Why not `AbortSignal.any()`: on Node 22 each call registers the combined signal with
 * every source in a FinalizationRegistry whose entry lives as long as the *source* does
 * (nodejs/node#55351). Combined with a long-lived signal (the service's shutdown signal),
 * once per message, that is ~170 bytes of heap kept per message for the life of the node:
 * the soak's live heap grew ~7 MB/hour per node from it (bench/soak.ts). Here the link is
 * an 'abort' listener on each source, removed by dispose(), so nothing stays behind.
 */
export interface LinkedSignal {
  readonly signal: AbortSignal
  /** Stops following the sources (call when the operation is over); idempotent. */
  dispose: () => void
}

/** A signal aborted (with its reason) when the first of `sources` aborts, until dispose(). */
export function linkSignals (sources: ReadonlyArray<AbortSignal | undefined>): LinkedSignal {
  const controller = new AbortController()
  const live = sources.filter((s): s is AbortSignal => s != null)
  const aborted = live.find(s => s.aborted)
  if (aborted != null) {
    controller.abort(aborted.reason)
    return { signal: controller.signal, dispose: () => {} }
  }
  const links: Array<[AbortSignal, () => void]> = []
  const dispose = (): void => {
    for (const [source, onAbort] of links) source.removeEventListener('abort', onAbort)
    links.length = 0
  }
  for (const source of live) {
    const onAbort = (): void => {
      dispose()
      controller.abort(source.reason)
    }
    source.addEventListener('abort', onAbort, { once: true })
    links.push([source, onAbort])
  }
  return { signal: controller.signal, dispose }
}
