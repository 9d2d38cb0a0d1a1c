#!/usr/bin/env node
/**
 * The `burrow` command line. One file per subcommand in ./commands; each exports
 * `register(program)`. Errors are one line on stderr and a non-zero exit.
 */
import { Command, CommanderError } from 'commander'
import { packageVersion } from '../package/index.js'
import { fail } from './output.js'
import * as daemon from './commands/daemon.js'
import * as id from './commands/id.js'
import * as status from './commands/status.js'
import * as peers from './commands/peers.js'
import * as find from './commands/find.js'
import * as dial from './commands/dial.js'
import * as ping from './commands/ping.js'
import * as send from './commands/send.js'
import * as inbox from './commands/inbox.js'
import * as outbox from './commands/outbox.js'
import * as config from './commands/config.js'
import * as nat from './commands/nat.js'
import * as doctor from './commands/doctor.js'
import * as lab from './commands/lab.js'
import * as events from './commands/events.js'

const program = new Command('burrow')
  .description('a libp2p node that reaches peers directly through NATs and firewalls')
  .version(packageVersion(), '-V, --version')
  .option('--home <dir>', 'home dir (identity, config, datastore, control socket); default $BURROW_HOME or ~/.burrow')
  .option('--verbose', 'print stack traces with errors')
  .exitOverride()
  // commander's own errors (unknown flag, bad value) are one coded line like every other
  // failure, and exit 2
  .configureOutput({ writeErr: (s) => { process.stderr.write(s.startsWith('error: ') ? `burrow: ERR_USAGE: ${s.slice(7).trim().split('\n')[0] ?? ''} (see burrow --help)\n` : s) } })

for (const cmd of [daemon, id, status, events, peers, find, dial, ping, send, inbox, outbox, config, nat, doctor, lab]) cmd.register(program)

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    // commander already printed its one line (or the help / version)
    process.exit(err.exitCode === 0 ? 0 : 2)
  }
  fail(err, program.opts<{ verbose?: boolean }>().verbose === true)
}
