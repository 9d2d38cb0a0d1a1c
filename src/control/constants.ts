/** The control socket's file name in the home dir. */
export const SOCKET_FILE = 'burrow.sock'

/** Version prefix of every control API path. */
export const API_PREFIX = '/v1'

/** Largest control request body; a message body travels base64 inside JSON (4/3 of its size). */
export const MAX_REQUEST_BYTES = 96 * 1024 * 1024
