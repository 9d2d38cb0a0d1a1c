import { clientFor } from '../context.js'
import { printJson } from '../output.js'
import type { NodeStatus } from '../../node/index.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('status')
    .description('reachability, NAT, addresses, port mappings, relay reservations, connections')
    .option('--json', 'JSON output (stable field names)')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const s = await clientFor(cmd).get<NodeStatus>('/status')
      if (opts.json === true) {
        printJson(s)
        return
      }
      console.log(`PeerId:        ${s.peerId}`)
      console.log(`network:       ${s.network} (DHT ${s.dht.mode}, ${s.dht.protocol})`)
      console.log(`up since:      ${s.startedAt}`)
      console.log(`reachability:  ${s.reachability} (${s.reachabilitySource}): ${s.reachabilityReason}`)
      console.log(`bootstrap:     ${s.bootstrap.peers === 0 ? 'no bootstrap peers (this node started its network)' : `${s.bootstrap.answered} of ${s.bootstrap.peers} peers answered${s.bootstrap.answered === 0 ? ': check the network, or pass --bootstrap' : ''}`}`)
      console.log(`NAT mapping:   ${s.nat.mapping}${s.nat.publicAddresses.length > 0 ? ` (public IP ${s.nat.publicAddresses.join(', ')})` : ''}`)
      console.log(`dial port:     ${s.holePunch.dialPort === 0 ? 'ephemeral (hole punching off)' : s.holePunch.dialPort}`)
      list('listening', s.addresses.listen)
      list('announced', s.addresses.announced)
      list('observed', s.addresses.observed)
      list('relayed', s.addresses.relayed)
      list('port mappings', s.portMappings.map(m => `${m.protocol} ${m.internal} -> ${m.external}${m.expiresAt != null ? ` until ${m.expiresAt}` : ''}${m.confirmed ? '' : ' (unconfirmed: waiting for a dial-back, not announced)'}`))
      list('reservations', s.reservations.map(r => `${r.relay}${r.expiresAt != null ? ` until ${r.expiresAt}` : ''}`))
      list('connections', s.connections.map(c => `${c.peerId} ${c.direct ? 'direct ' : 'relayed'} ${c.direction.padEnd(8)} ${c.remoteAddress}${c.rttMs != null ? ` ${c.rttMs} ms` : ''}${c.whyRelayed != null ? `\n      not direct: ${c.whyRelayed}` : ''}`))
      console.log(`outbox:        ${s.messages.outboxPending} pending, ${s.messages.outboxFailed} failed`)
      const { inbox, inFlight } = s.messages
      console.log(`inbox:         ${inbox.count}/${inbox.maxCount} messages, ${mib(inbox.bytes)}/${mib(inbox.maxBytes)} MiB from ${inbox.senders} sender(s)${inbox.skipped > 0 ? `, ${inbox.skipped} unreadable record(s) skipped` : ''}`)
      console.log(`in flight:     ${mib(inFlight.bytes)}/${mib(inFlight.maxBytes)} MiB of half-received frames${inFlight.refused > 0 ? `, ${inFlight.refused} refused` : ''}`)
    })
}

function mib (bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1)
}

function list (label: string, items: string[]): void {
  if (items.length === 0) {
    console.log(`${`${label}:`.padEnd(15)}none`)
    return
  }
  console.log(`${label}:`)
  for (const i of items) console.log(`  ${i}`)
}
