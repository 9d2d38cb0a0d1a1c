import { homeOf } from '../context.js'
import type { Command } from 'commander'

export function register (program: Command): void {
  program.command('id')
    .description("print this node's PeerId (creates the identity if missing)")
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { loadOrCreateIdentity } = await import('../../identity/index.js')
      const identity = await loadOrCreateIdentity(homeOf(cmd))
      if (opts.json === true) console.log(JSON.stringify({ peerId: identity.peerId.toString(), keyFile: identity.file, created: identity.created }))
      else console.log(identity.peerId.toString())
    })
}
