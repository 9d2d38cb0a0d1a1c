/**
 * The control API: the daemon serves it on HOME/burrow.sock (0600); the CLI and
 * scripts use the client.
 */
export { ControlServer, inboxJson } from './server.js'
export { ControlClient } from './client.js'
export { NoDaemonError, DaemonRunningError, RemoteError } from './errors.js'
export { SOCKET_FILE } from './constants.js'
export { ControlProtocolError } from './http1.js'
