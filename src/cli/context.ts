import { resolveHome } from '../config/index.js'
import { ControlClient } from '../control/index.js'
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
