/**
 * The event stream's limits, each with its reason.
 */

/**
 * Recent events a node keeps for `GET /v1/events?since=SEQ` and a view that (re)connects:
 * a cone × cone dial is ~10 events, a busy relay's refusals a few a second; 512 records of
 * at most a few hundred bytes each stay well under 1 MB.
 */
export const DEFAULT_EVENT_RING_SIZE = 512

/**
 * Bytes an events stream may have buffered unread before the daemon ends it: a client
 * that stops reading must not make the daemon hold every later event (its memory is the
 * daemon's); 1 MB is a few thousand events, far more than a live reader ever lags.
 */
export const MAX_EVENT_STREAM_BUFFER_BYTES = 1024 * 1024

/** Longest string a peer-supplied field may carry into an event (addresses, reasons): one line, bounded. */
export const MAX_EVENT_TEXT_CHARS = 300
