/**
 * The node's identity: an Ed25519 key created on first run in the home dir and kept
 * there with mode 0600. A key that group or others can read is refused, as ssh does.
 */
import { mkdir, open, readFile, stat, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { logger } from '@libp2p/logger'
import { BurrowError } from '../errors/index.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

const log = logger('burrow:identity')

export const IDENTITY_FILE = 'identity.key'

export class InsecureKeyError extends BurrowError {
  constructor (file: string, mode: number) {
    super('ERR_INSECURE_KEY', `${file} is readable by others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); run 'chmod 600 ${file}' and start again`)
  }
}

export class CorruptKeyError extends BurrowError {
  constructor (file: string, cause: unknown) {
    super('ERR_CORRUPT_KEY', `${file} is not a libp2p private key (${(cause as Error).message}); move it away to create a new identity`, { cause })
  }
}

export interface Identity {
  privateKey: PrivateKey
  peerId: PeerId
  file: string
  created: boolean
}

/** Makes the home dir (0700) if missing. */
export async function ensureHome (home: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 })
}

/** Loads HOME/identity.key, creating it (0600) when it does not exist yet. */
export async function loadOrCreateIdentity (home: string): Promise<Identity> {
  await ensureHome(home)
  const file = join(home, IDENTITY_FILE)
  try {
    const st = await stat(file)
    if ((st.mode & 0o077) !== 0) throw new InsecureKeyError(file, st.mode)
    const bytes = await readFile(file)
    let privateKey: PrivateKey
    try {
      privateKey = privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new CorruptKeyError(file, err)
    }
    return { privateKey, peerId: peerIdFromPrivateKey(privateKey), file, created: false }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }

  const privateKey = await generateKeyPair('Ed25519')
  // 'wx': fail rather than overwrite if another process created it meanwhile
  const fh = await open(file, 'wx', 0o600)
  try {
    await fh.writeFile(privateKeyToProtobuf(privateKey))
    await fh.sync()
  } finally {
    await fh.close()
  }
  await chmod(file, 0o600) // the umask may have narrowed the mode; make it exact
  const peerId = peerIdFromPrivateKey(privateKey)
  log('created identity %p in %s', peerId, file)
  return { privateKey, peerId, file, created: true }
}
