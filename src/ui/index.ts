/**
 * The live view (config `ui`, `burrow daemon --ui HOST:PORT`): one self-contained page
 * and its JSON and Server-Sent Events, served by UiServer (loopback unless `uiPublic`).
 */
export { UiServer } from './server.js'
export type { UiNode, UiServerInit } from './server.js'
export { UiListenError } from './errors.js'
export * from './constants.js'
