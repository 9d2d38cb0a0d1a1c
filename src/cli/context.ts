// the light rooms of the config and control doors: their index files pull in the config
// checker and the control server, which a client command never needs (`burrow status` must
// start fast)
import { resolveHome } from '../config/home.js'
import { ControlClient } from '../control/client.js'
import type { Command } from 'commander'

export interface GlobalOptions {
  home?: string
  verbose?: boolean
}

/** Global options live on the root program; subcommands read them from there. */
export function globals (cmd: Command): GlobalOptions {
  let root = cmd
  while (root.parent != null) root = root.parent
  return root.opts<GlobalOptions>()
}

export function homeOf (cmd: Command): string {
  return resolveHome(globals(cmd).home)
}

export function clientFor (cmd: Command): ControlClient {
  return new ControlClient(homeOf(cmd))
}
