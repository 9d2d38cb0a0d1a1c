/**
 * Configuration: defaults < HOME/config.json < BURROW_* environment < flags, checked
 * against one schema. Errors name the field, the value and its source in one line.
 */
export { loadConfig, validateConfig, CONFIG_FILE } from './load.js'
export type { LoadConfigOptions, ConfigOverrides } from './load.js'
export { FIELDS, defaultsObject } from './fields.js'
export type { Field } from './fields.js'
export type { BurrowConfig } from './schema.js'
export { InvalidConfigError, InsecureHomeError } from './errors.js'
export { resolveHome, SOCKET_FILE } from './home.js'
