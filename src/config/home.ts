import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

/** The home dir: `--home DIR`, else `$BURROW_HOME`, else `~/.burrow`. */
export function resolveHome (flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag != null && flag !== '') return resolve(flag)
  const fromEnv = env.BURROW_HOME
  if (fromEnv != null && fromEnv !== '') return resolve(fromEnv)
  return join(homedir(), '.burrow')
}
