/** The control socket's file name in the home dir (the home's layout is config's). */
export { SOCKET_FILE } from '../config/index.js'

/** Version prefix of every control API path. */
export const API_PREFIX = '/v1'

/**
 * Room around a message body in a control request: the JSON keys, peer id, content type
 * and id (each bounded far below this); the body itself travels base64 (4/3 of its size).
 */
export const REQUEST_OVERHEAD_BYTES = 64 * 1024

/** Seconds a client is told to wait (Retry-After) when every control request slot is taken. */
export const BUSY_RETRY_AFTER_SECONDS = 1
