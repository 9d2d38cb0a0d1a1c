import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { packageRoot } from '../package/index.js'
import { BurrowError } from '../errors/index.js'

/**
 * A network's bootstrap list: `bootstrap/<network>.json` in the package.
 *
 * ```json
 * { "network": "amino", "dhtProtocol": "/ipfs/kad/1.0.0", "peers": ["/dnsaddr/…/p2p/Qm…"] }
 * ```
 */
export interface BootstrapFile {
  network: string
  dhtProtocol?: string
  peers: string[]
  /** true when the network has no list in the package */
  missing?: boolean
}


export async function readBootstrapFile (network: string): Promise<BootstrapFile> {
  const file = join(packageRoot(), 'bootstrap', `${network}.json`)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    // the first node of a new swarm has nobody to bootstrap from; it says so at start
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { network, peers: [], missing: true }
    throw err
  }
  const parsed = JSON.parse(text) as Partial<BootstrapFile>
  if (!Array.isArray(parsed.peers) || parsed.peers.some(p => typeof p !== 'string')) {
    throw new BurrowError('ERR_BAD_BOOTSTRAP_FILE', `${file}: "peers" must be a list of multiaddr strings`)
  }
  return { network, dhtProtocol: parsed.dhtProtocol, peers: parsed.peers }
}
