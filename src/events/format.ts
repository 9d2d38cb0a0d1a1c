import type { BurrowEvent } from './types.js'

const short = (peer: string): string => peer.length > 16 ? `${peer.slice(0, 8)}…${peer.slice(-6)}` : peer

/** One human line for an event (without its time): `burrow events` and the daemon's stdout. */
export function formatEvent (e: BurrowEvent): string {
  switch (e.type) {
    case 'reachability:changed': return `reachability: ${e.data.reachability} (${e.data.source}) - ${e.data.reason}`
    case 'address:observed': return `address observed: ${e.data.address} (by ${short(e.data.by)})`
    case 'mapping:created': return `port mapping made: ${e.data.transport} ${e.data.internal} -> ${e.data.external} via ${e.data.protocol}${e.data.expiresAt != null ? `, until ${e.data.expiresAt}` : ''}`
    case 'mapping:renewed': return `port mapping renewed: ${e.data.transport} ${e.data.external} via ${e.data.protocol}${e.data.expiresAt != null ? `, until ${e.data.expiresAt}` : ''}`
    case 'mapping:lost': return `port mapping lost: ${e.data.transport} ${e.data.external} via ${e.data.protocol} - ${e.data.reason}`
    case 'reservation:created': return `relay reservation made on ${short(e.data.relay)}${e.data.expiresAt != null ? `, until ${e.data.expiresAt}` : ''}`
    case 'reservation:lost': return `relay reservation lost on ${short(e.data.relay)}`
    case 'connection:opened': return `peer ${short(e.data.peer)} connected via ${e.data.path} (${e.data.direction}, ${e.data.remoteAddress})`
    case 'connection:closed': return `peer ${short(e.data.peer)} ${e.data.path} connection closed`
    case 'holepunch:started': return `hole punch ${e.data.transport} attempt ${e.data.attempt} with ${short(e.data.peer)} started (${e.data.role})`
    case 'holepunch:attempt': return `hole punch ${e.data.transport} attempt ${e.data.attempt} with ${short(e.data.peer)}: ${e.data.outcome} in ${e.data.durationMs} ms${e.data.outcome === 'failed' ? ` - ${e.data.detail}` : ''}`
    case 'holepunch:direct': return `upgraded to direct: ${short(e.data.peer)} at ${e.data.remoteAddress} (${e.data.transport}, ${e.data.sinceRelayedMs} ms after the relayed connection)`
    case 'holepunch:failed': return `no direct path to ${short(e.data.peer)} (${e.data.transport}): ${e.data.reason}`
    case 'message:received': return `message ${e.data.id} received from ${short(e.data.from)} (${e.data.bytes} bytes, ${e.data.via})`
    case 'message:delivered': return `message ${e.data.id} acked by ${short(e.data.to)}`
    case 'message:failed': return `message ${e.data.id} to ${short(e.data.to)} failed: ${e.data.reason}`
    case 'relay:refused': return `relay refused (${e.data.status}): ${e.data.reason}`
  }
}
