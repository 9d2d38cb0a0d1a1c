import { clientFor } from '../context.js'
import { printJson } from '../output.js'
import type { NodeStatus } from '../../node/index.js'
import type { ControlClient } from '../../control/client.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('status')
    .description('reachability, NAT, addresses, port mappings, relay reservations, connections')
    .option('--json', 'JSON output (stable field names)')
    .option('--watch', 'redraw whenever the node reports an event (with --json: one status per line)')
    .action(async (opts: { json?: boolean, watch?: boolean }, cmd: Command) => {
      const client = clientFor(cmd)
      if (opts.watch !== true) {
        const s = await client.get<NodeStatus>('/status')
        if (opts.json === true) printJson(s)
        else console.log(render(s).join('\n'))
        return
      }
      await watch(client, opts.json === true)
    })
}

/**
 * `status --watch`: the status again after each burst of events (they come from
 * `GET /v1/events`, so nothing is polled), printed only when it changed; on a terminal
 * the screen is redrawn, in a pipe each status follows the last.
 */
async function watch (client: ControlClient, json: boolean): Promise<void> {
  let last = ''
  let timer: ReturnType<typeof setTimeout> | undefined
  let running = Promise.resolve()
  const show = async (): Promise<void> => {
    const s = await client.get<NodeStatus>('/status')
    const text = json ? JSON.stringify(s) : render(s).join('\n')
    if (text === last) return
    last = text
    if (json) console.log(text)
    else if (process.stdout.isTTY) process.stdout.write(`\x1b[H\x1b[2J${text}\n\n(watching: redrawn on each change; Ctrl-C to stop)\n`)
    else console.log(`--- ${new Date().toISOString()}\n${text}`)
  }
  await show()
  for await (const _event of client.stream('GET', '/events')) {
    // a burst of events (a punch tells four) gives one redraw
    clearTimeout(timer)
    timer = setTimeout(() => { running = running.then(show).catch(() => {}) }, WATCH_SETTLE_MS)
  }
  clearTimeout(timer)
  await running
}

/** Events within this long of each other give one redraw. */
const WATCH_SETTLE_MS = 150

function render (s: NodeStatus): string[] {
  const out: string[] = []
  const list = (label: string, items: string[]): void => {
    if (items.length === 0) {
      out.push(`${`${label}:`.padEnd(15)}none`)
      return
    }
    out.push(`${label}:`)
    for (const i of items) out.push(`  ${i}`)
  }
  out.push(`PeerId:        ${s.peerId}`)
  out.push(`network:       ${s.network} (DHT ${s.dht.mode}, ${s.dht.protocol})`)
  out.push(`up since:      ${s.startedAt}`)
  out.push(`reachability:  ${s.reachability} (${s.reachabilitySource}): ${s.reachabilityReason}`)
  out.push(`bootstrap:     ${s.bootstrap.peers === 0 ? 'no bootstrap peers (this node started its network)' : `${s.bootstrap.answered} of ${s.bootstrap.peers} peers answered${s.bootstrap.answered === 0 ? ': check the network, or pass --bootstrap' : ''}`}`)
  out.push(`NAT mapping:   ${s.nat.mapping}${s.nat.publicAddresses.length > 0 ? ` (public IP ${s.nat.publicAddresses.join(', ')})` : ''}`)
  out.push(`UDP (UDX):     ${udpLine(s.udp)}`)
  out.push(`dial port:     ${s.holePunch.dialPort === 0 ? 'ephemeral (hole punching off)' : s.holePunch.dialPort}`)
  list('listening', s.addresses.listen)
  list('announced', s.addresses.announced)
  list('observed', s.addresses.observed)
  list('relayed', s.addresses.relayed)
  list('port mappings', s.portMappings.map(m => `${m.protocol} ${m.internal} -> ${m.external}${m.expiresAt != null ? ` until ${m.expiresAt}` : ''}${m.confirmed ? '' : ' (unconfirmed: waiting for a dial-back, not announced)'}`))
  list('reservations', s.reservations.map(r => `${r.relay}${r.expiresAt != null ? ` until ${r.expiresAt}` : ''}`))
  list('connections', s.connections.map(c => `${c.peerId} ${c.direct ? 'direct ' : 'relayed'} ${c.direction.padEnd(8)} ${c.remoteAddress}${c.rttMs != null ? ` ${c.rttMs} ms` : ''}${c.whyRelayed != null ? `\n      not direct: ${c.whyRelayed}` : ''}`))
  out.push(`outbox:        ${s.messages.outboxPending} pending, ${s.messages.outboxFailed} failed`)
  const { inbox, inFlight } = s.messages
  out.push(`inbox:         ${inbox.count}/${inbox.maxCount} messages, ${mib(inbox.bytes)}/${mib(inbox.maxBytes)} MiB from ${inbox.senders} sender(s)${inbox.skipped > 0 ? `, ${inbox.skipped} unreadable record(s) skipped` : ''}`)
  out.push(`in flight:     ${mib(inFlight.bytes)}/${mib(inFlight.maxBytes)} MiB of half-received frames${inFlight.refused > 0 ? `, ${inFlight.refused} refused` : ''}`)
  return out
}

function mib (bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1)
}

/** One line on the UDX path: its socket, public address and NAT UDP mapping, or why unknown. */
export function udpLine (u: { enabled: boolean, port: number | null, mapping: string, reason: string, publicAddress: string | null } | undefined): string {
  if (u == null || !u.enabled) return 'off (--punch tcp, webrtc or off)'
  const where = u.port != null ? `socket :${u.port}` : 'no socket'
  const pub = u.publicAddress != null ? `, public ${u.publicAddress}` : ''
  return `${u.mapping} (${where}${pub}): ${u.reason}`
}
