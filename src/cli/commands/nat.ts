import { clientFor } from '../context.js'
import { printJson } from '../output.js'
import type { NatReport } from '../../portmap/index.js'
import type { UdpStatus } from '../../udx/index.js'
import { udpLine } from './status.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('nat')
    .description('NAT diagnostics: mapping behaviour, port-mapping protocols the router answered, mappings, reachability, advice')
    .option('--json', 'JSON output (stable field names)')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const r = await clientFor(cmd).get<NatReport & { udp?: UdpStatus }>('/nat')
      if (opts.json === true) {
        printJson(r)
        return
      }
      // 'unknown': that protocol was never asked (mapping off, LAN-only, a public host, still asking)
      const asked = r.protocols.filter(p => p.answered !== 'unknown')
      const answered = asked.map(p => `${p.protocol} ${p.answered === 'yes' ? 'answered' : p.answered === 'no' ? 'silent' : 'refused'}`).join(', ')
      const notAsked = r.portMapping.mode === 'off' ? 'not asked (port mapping is off; `burrow doctor` asks the router without mapping)' : 'not asked'
      console.log(`NAT mapping:   ${r.mapping}${r.mapping === 'unknown' ? ` (${r.mappingSource})` : ''}`)
      console.log(`UDP (UDX):     ${udpLine(r.udp)}`)
      console.log(`reachability:  ${r.reachability} (${r.reachabilitySource})`)
      console.log(`port mapping:  ${portMappingLine(r)}`)
      console.log(`protocols:     ${answered === '' ? notAsked : answered}`)
      const routerAnswered = r.protocols.some(p => p.answered === 'yes')
      const externalIp = r.externalIp != null && r.externalIp !== ''
        ? `${r.externalIp}${r.doubleNat ? ' (not public: double NAT)' : ''}`
        : routerAnswered ? 'unknown (the router did not say)' : `unknown (the router was ${asked.length > 0 ? 'asked, and no mapping protocol answered' : 'not asked'})`
      console.log(`external IP:   ${externalIp}`)
      if (r.mappings.length === 0) {
        console.log('mappings:      none')
      } else {
        console.log('mappings:')
        for (const m of r.mappings) {
          console.log(`  ${m.protocol} ${m.internal} -> ${m.external.startsWith('/ip4/0.0.0.0/') ? m.external.replace('/ip4/0.0.0.0/', '(unknown address)/') : m.external}${m.expiresAt != null ? ` until ${m.expiresAt}` : ''}${m.announced ? '' : ' (unconfirmed: not announced)'}`)
        }
      }
      console.log(`advice:        ${r.advice}`)
    })
}

/** "auto: mapped via pcp (gateway 192.168.1.1)"; a status that only repeats the mode is said once. */
function portMappingLine (r: NatReport): string {
  const pm = r.portMapping
  if (pm.mode === 'off') return 'off (--port-mapping off): the router is not asked for a mapping'
  const head = pm.status === pm.mode ? pm.mode : `${pm.mode}: ${pm.status}`
  return `${head}${pm.active != null ? ` via ${pm.active}` : ''}${pm.gateway != null ? ` (gateway ${pm.gateway})` : ''}`
}
