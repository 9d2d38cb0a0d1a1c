export { StunServer, DEFAULT_STUN_PORT, sourceKey } from './server.js'
export type { StunServerInit, StunServerStatus } from './server.js'
export { stunServersFor, parseStunUrl, stunBinding, PADDED_REQUEST_BYTES } from './client.js'
export {
  encodeBindingRequest, encodeBindingResponse, parseHeader, parseAttributes, decodeAddress, mappedAddressOf, fingerprintOk, hasFingerprint,
  STUN_MAGIC_COOKIE, BINDING_REQUEST, BINDING_SUCCESS, ATTR_XOR_MAPPED_ADDRESS, ATTR_MAPPED_ADDRESS, ATTR_FINGERPRINT
} from './codec.js'
export type { StunAddress, StunHeader } from './codec.js'
export { StunService, stunService } from './service.js'
export type { StunServiceComponents, RelayOffering } from './service.js'
