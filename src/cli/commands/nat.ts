import { clientFor } from '../context.js'
import { printJson } from '../output.js'
import type { NatReport } from '../../portmap/index.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('nat')
    .description('NAT diagnostics: mapping behaviour, port-mapping protocols the router answered, mappings, reachability, advice')
    .option('--json', 'JSON output (stable field names)')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const r = await clientFor(cmd).get<NatReport>('/nat')
      if (opts.json === true) {
        printJson(r)
        return
      }
      const answered = r.protocols.map(p => `${p.protocol} ${p.answered === 'yes' ? 'yes' : p.answered}`).join(', ')
      console.log(`NAT mapping:   ${r.mapping}${r.mapping === 'unknown' ? ` (${r.mappingSource})` : ''}`)
      console.log(`reachability:  ${r.reachability} (${r.reachabilitySource})`)
      console.log(`port mapping:  ${r.portMapping.mode}: ${r.portMapping.status}${r.portMapping.active != null ? ` via ${r.portMapping.active}` : ''}${r.portMapping.gateway != null ? ` (gateway ${r.portMapping.gateway})` : ''}`)
      console.log(`protocols:     ${answered === '' ? 'not asked' : answered}`)
      console.log(`external IP:   ${r.externalIp == null || r.externalIp === '' ? 'unknown (the router did not say)' : r.externalIp}${r.doubleNat ? ' (not public: double NAT)' : ''}`)
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
