import { DEFAULT_EVENT_RING_SIZE, MAX_EVENT_TEXT_CHARS } from './constants.js'
import type { BurrowEvent, BurrowEventPayloads, BurrowEventType } from './types.js'

/**
 * The node's recent events, oldest first, at most `size` of them: each gets the next
 * sequence number and the time it was recorded. Strings are cut to one bounded line, as
 * some come from peers (addresses, reasons).
 */
export class EventRing {
  private readonly size: number
  private readonly events: BurrowEvent[] = []
  private seq = 0

  constructor (size = DEFAULT_EVENT_RING_SIZE) {
    this.size = Math.max(1, size)
  }

  record<K extends BurrowEventType> (type: K, data: BurrowEventPayloads[K], now = new Date()): BurrowEvent {
    const event = { seq: ++this.seq, time: now.toISOString(), type, data: bounded(data) } as unknown as BurrowEvent
    this.events.push(event)
    if (this.events.length > this.size) this.events.shift()
    return event
  }

  /** Events after sequence number `after` (0: all kept), oldest first. */
  since (after = 0): BurrowEvent[] {
    return this.events.filter(e => e.seq > after)
  }

  get lastSeq (): number {
    return this.seq
  }
}

function bounded<T> (value: T): T {
  if (typeof value === 'string') {
    const line = value.replace(/[\r\n\t]+/g, ' ')
    return (line.length > MAX_EVENT_TEXT_CHARS ? `${line.slice(0, MAX_EVENT_TEXT_CHARS - 1)}…` : line) as T
  }
  if (Array.isArray(value)) return value.slice(0, 16).map(v => bounded(v)) as T
  if (value != null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = bounded(v)
    return out as T
  }
  return value
}
