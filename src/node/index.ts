/**
 * The node: libp2p assembled from config, and the lifecycle around it.
 */
export { BurrowNode, createNode, isDirect, bestConnection } from './node.js'
export type { CreateNodeOptions, SendOptions } from './node.js'
export type * from './types.js'
export * from './errors.js'
export { parsePeerId, parseTarget } from './targets.js'
export { assembleLibp2p, dialsPrivateAddresses } from './libp2p.js'
export type { BurrowLibp2p, BurrowServices } from './libp2p.js'
