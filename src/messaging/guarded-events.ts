/**
 * An event emitter whose listeners cannot crash the process.
 *
 * Node's EventTarget reports an error thrown by a listener as an uncaught exception, which
 * ends the process: one bad `message` listener (or one bad record it formats) would take
 * the daemon down. Here every listener runs inside a try/catch; what it throws (or the
 * promise it rejects) is logged and the other listeners still run.
 */
import { TypedEventEmitter } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { EventHandler } from '@libp2p/interface'

const log = logger('burrow:events')

type Listener = ((evt: Event) => unknown) | { handleEvent: (evt: Event) => unknown }

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the constraint TypedEventEmitter itself declares
export class GuardedEventEmitter<EventMap extends Record<string, any>> extends TypedEventEmitter<EventMap> {
  /** listener → event type → the guard registered in its place, so removeEventListener finds it */
  private readonly guards = new WeakMap<object, Map<string, (evt: Event) => void>>()

  override addEventListener<K extends keyof EventMap>(type: K, listener: EventHandler<EventMap[K]> | null, options?: boolean | (EventListenerOptions & { once?: boolean, passive?: boolean, signal?: AbortSignal })): void {
    if (listener == null) {
      super.addEventListener(type, listener, options)
      return
    }
    const name = String(type)
    let byType = this.guards.get(listener)
    if (byType == null) {
      byType = new Map()
      this.guards.set(listener, byType)
    }
    let guard = byType.get(name)
    if (guard == null) {
      const target = listener as Listener
      guard = (evt: Event): void => {
        try {
          const result = typeof target === 'function' ? target(evt) : target.handleEvent(evt)
          if (result instanceof Promise) {
            result.catch((err: unknown) => { log.error('a %s listener rejected - %e', name, err) })
          }
        } catch (err) {
          log.error('a %s listener threw - %e', name, err)
        }
      }
      byType.set(name, guard)
    }
    super.addEventListener(type, guard, options)
  }

  override removeEventListener<K extends keyof EventMap>(type: K, listener?: EventHandler<EventMap[K]> | null, options?: boolean | EventListenerOptions): void {
    const guard = listener != null ? this.guards.get(listener)?.get(String(type)) : undefined
    super.removeEventListener(type, guard ?? listener, options)
  }
}
