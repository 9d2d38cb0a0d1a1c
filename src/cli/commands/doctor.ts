import { clientFor } from '../context.js'
import { printJson } from '../output.js'
import type { DoctorReport } from '../../doctor/index.js'
import type { UdpStatus } from '../../udx/index.js'
import { udpLine } from './status.js'
import type { Command } from 'commander'

const KIND: Record<string, string> = {
  'endpoint-independent': 'endpoint-independent (cone: hole punching works)',
  'endpoint-dependent': 'endpoint-dependent (symmetric: peers behind NATs go through a relay)',
  'no-nat': 'no NAT (the relays see our own address)',
  unknown: 'unknown'
}

export function register (program: Command): void {
  program.command('doctor')
    .description('active NAT check: asks 2+ relays for our TCP and UDP (STUN) address, the router over UPnP, NAT-PMP and PCP, measures relay RTTs and hairpinning, and gives a verdict')
    .option('--json', 'JSON output (stable field names)')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const r = await clientFor(cmd).post<DoctorReport & { udx?: UdpStatus }>('/doctor', {})
      if (opts.json === true) {
        printJson(r)
        return
      }
      console.log('relays:')
      if (r.relays.length === 0) console.log('  none known (start with --bootstrap pointing at burrow relays)')
      for (const x of r.relays) {
        console.log(`  ${x.peerId}${x.ip != null ? ` at ${x.ip}` : ''}: RTT ${x.rttMs != null ? `${x.rttMs} ms` : 'unknown'}`)
        console.log(`    TCP: ${x.tcp.observed != null ? `sees us at ${x.tcp.observed}${x.tcp.fromDialPort ? '' : ' (not from the dial port)'}` : x.tcp.error ?? 'no answer'}`)
        console.log(`    UDP: ${x.udp.mapped != null ? `sees us at ${x.udp.mapped} (STUN ${x.udp.server ?? ''})` : x.udp.error ?? 'not asked'}`)
      }
      console.log(`TCP mapping:  ${KIND[r.tcp.mapping] ?? r.tcp.mapping}; ${r.tcp.detail}`)
      console.log(`UDP mapping:  ${KIND[r.udp.mapping] ?? r.udp.mapping}; ${r.udp.detail}`)
      console.log(`UDX socket:   ${udpLine(r.udx)}`)
      console.log(`hairpinning:  ${r.hairpin.udp}: ${r.hairpin.detail}`)
      console.log(`gateway:      ${r.gateway.address ?? 'none (no default route)'}`)
      for (const p of r.gateway.protocols) {
        const said = p.answered === 'yes' ? `answers${p.externalIp != null ? `, external IP ${p.externalIp}` : ''}` : p.answered === 'no' ? 'silent' : p.answered === 'refused' ? 'refused' : 'not asked'
        console.log(`  ${p.protocol.padEnd(8)} ${said}${p.answered !== 'yes' && p.detail != null ? ` (${p.detail})` : ''}`)
      }
      console.log(`verdict:      ${r.verdict}`)
      for (const a of r.advice) console.log(`advice:       ${a}`)
    })
}
