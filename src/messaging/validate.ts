/**
 * What a peer sends is checked here, at the protocol edge, before anything is stored or
 * shown: an id or content type that cannot be printed or used as a key, a timestamp that
 * is not a date. Each check returns the reason to put in the MALFORMED ack, or undefined.
 */
import { MAX_CONTENT_TYPE_BYTES, MAX_ID_BYTES, MAX_SENT_AT_MS, MIN_SENT_AT_MS } from './constants.js'

/** C0 and C1 controls, DEL, and U+FFFD (what invalid UTF-8 decodes to). */
const BAD_ID_CHARS = /[\u0000-\u001f\u007f-\u009f\ufffd]/

/** A content type is printable ASCII (RFC 6838 names, RFC 9110 parameters). */
const CONTENT_TYPE = /^[\x20-\x7e]+$/

export function utf8Length (s: string): number {
  return Buffer.byteLength(s, 'utf8')
}

export function checkId (id: string): string | undefined {
  if (id === '' || utf8Length(id) > MAX_ID_BYTES) {
    return `id must be 1 to ${MAX_ID_BYTES} bytes`
  }
  if (BAD_ID_CHARS.test(id) || !id.isWellFormed()) {
    return 'id must be printable UTF-8 (no control characters)'
  }
  return undefined
}

export function checkContentType (contentType: string | undefined): string | undefined {
  if (contentType == null) {
    return undefined
  }
  if (utf8Length(contentType) > MAX_CONTENT_TYPE_BYTES) {
    return `content type over ${MAX_CONTENT_TYPE_BYTES} bytes`
  }
  if (!CONTENT_TYPE.test(contentType)) {
    return 'content type must be printable ASCII'
  }
  return undefined
}

/** A sentAtMs from the wire (uint64): ms since the epoch from 2000-01-01 (MIN_SENT_AT_MS) to year 9999. */
export function checkSentAtMs (sentAtMs: bigint | number): string | undefined {
  const n = typeof sentAtMs === 'bigint' ? sentAtMs : Number.isSafeInteger(sentAtMs) ? BigInt(sentAtMs) : -1n
  if (n < BigInt(MIN_SENT_AT_MS) || n > BigInt(MAX_SENT_AT_MS)) {
    return `sentAtMs must be ms since the epoch, from ${MIN_SENT_AT_MS} (2000-01-01) to ${MAX_SENT_AT_MS} (year 9999)`
  }
  return undefined
}

/** Whether a timestamp read back from the store can be shown as a date. */
export function isValidTimestamp (ms: number): boolean {
  return Number.isSafeInteger(ms) && ms >= 0 && ms <= MAX_SENT_AT_MS
}
