import { lstat, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { InsecureHomeError } from './errors.js'

/** The control socket's file name in the home dir (the daemon's control server listens there; a node starting on a home checks it). */
export const SOCKET_FILE = 'burrow.sock'

/** The home dir: `--home DIR`, else `$BURROW_HOME`, else `~/.burrow`. */
export function resolveHome (flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag != null && flag !== '') return resolve(flag)
  const fromEnv = env.BURROW_HOME
  if (fromEnv != null && fromEnv !== '') return resolve(fromEnv)
  return join(homedir(), '.burrow')
}

/** group or others may write: they could swap the config, the key or the control socket */
const WRITABLE_BY_OTHERS = 0o022

/**
 * Refuses a home dir that another user owns or that group/others can write, as ssh
 * does for ~/.ssh: whoever can write there can replace config.json or burrow.sock
 * (and so read every message `burrow send` hands over). A missing dir is fine: it is
 * created 0700 later. No check where the platform has no uids (Windows).
 */
export async function checkHome (home: string): Promise<void> {
  const uid = process.geteuid?.()
  if (uid == null) return
  let st
  try {
    st = await stat(home)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  if (!st.isDirectory()) throw new InsecureHomeError(home, `is not a directory; pick another --home`)
  checkOwnerAndMode(home, st, uid, `chmod 700 ${home}`)
}

/** Refuses a config file (or any file the node trusts) that another user owns or that group/others can write. */
export async function checkTrustedFile (file: string): Promise<void> {
  const uid = process.geteuid?.()
  if (uid == null) return
  let st
  try {
    st = await lstat(file)
    if (st.isSymbolicLink()) st = await stat(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  checkOwnerAndMode(file, st, uid, `chmod 600 ${file}`)
}

function checkOwnerAndMode (path: string, st: { uid: number, mode: number }, uid: number, fix: string): void {
  if (st.uid !== uid) {
    throw new InsecureHomeError(path, `is owned by uid ${st.uid}, not by you (uid ${uid}); use a --home of your own, or 'chown ${uid} ${path}' if it is yours`)
  }
  if ((st.mode & WRITABLE_BY_OTHERS) !== 0) {
    throw new InsecureHomeError(path, `is writable by group or others (mode ${modeString(st.mode)}); run '${fix}' and start again`)
  }
}

function modeString (mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0')
}
