/**
 * The node's event stream: typed names and payloads, and the ring of recent events.
 *
 * @see DESIGN.md, "Events"
 */
export { EventRing } from './ring.js'
export { EVENT_TYPES } from './types.js'
export type { BurrowEvent, BurrowEventPayloads, BurrowEventType, Path } from './types.js'
export { DEFAULT_EVENT_RING_SIZE, MAX_EVENT_STREAM_BUFFER_BYTES, MAX_EVENT_TEXT_CHARS } from './constants.js'
export { formatEvent } from './format.js'
