/** Open sockets at once: a tab or two (each holds one event stream) and a curl by hand. */
export const MAX_UI_CONNECTIONS = 16

/** Live event streams at once; a tab holds one, so 8 is several tabs, not a crowd. */
export const MAX_UI_STREAMS = 8

/** A request (headers and body) must be done by then; the event stream is exempt once open. */
export const UI_REQUEST_TIMEOUT_MS = 10_000

/** A POST body: a PeerId or multiaddr to dial, or a message of at most 64 KiB as text. */
export const MAX_UI_BODY_BYTES = 96 * 1024

/** How long a dial or a send from the page may take before the page is told it timed out. */
export const UI_ACTION_TIMEOUT_MS = 30_000

/** Inbox messages the page shows (newest), each cut to this many characters. */
export const UI_INBOX_SHOWN = 50
export const UI_BODY_CHARS = 500

/** Header the page sends with every POST: a cross-site form cannot set it, and its value is this run's token. */
export const UI_TOKEN_HEADER = 'x-burrow-ui-token'

/** A comment line on the event stream this often, so proxies and the browser keep it open. */
export const UI_KEEPALIVE_MS = 15_000
