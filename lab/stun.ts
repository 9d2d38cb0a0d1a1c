/**
 * burrow's own STUN server (src/stun, from the built package) as a plain process on a lab host:
 * the "STUN server elsewhere in the lab" the UDP path's tests and bench give their nodes
 * (tests never contact the public STUN servers of amino's default list).
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { packageRoot } from './delay.js'
import { LabNodeError } from './errors.js'
import type { LabProcess } from './process.js'
import type { LabHost } from './topology.js'

/** The port lab STUN servers answer on (STUN's own, RFC 8489). */
export const LAB_STUN_PORT = 3478
/** How long a lab STUN server may take to listen. */
const STUN_START_TIMEOUT_MS = 10_000

const STUN_SCRIPT = `
const { StunServer } = await import(process.argv[1]);
const s = new StunServer({ port: Number(process.argv[2]), hosts: ['0.0.0.0'] });
await s.start();
console.log('stun: listening');
process.on('SIGTERM', () => { void s.stop().then(() => process.exit(0)) });
`

/** Starts a STUN server on `host` at LAB_STUN_PORT; resolves once it listens. Stopped with the lab. */
export async function startLabStun (host: LabHost, port = LAB_STUN_PORT): Promise<LabProcess> {
  const module = join(packageRoot(), 'dist', 'stun', 'index.js')
  if (!existsSync(module)) throw new LabNodeError(`${module} is missing: build burrow first (npm run build)`)
  const proc = await host.spawn(process.execPath, ['--input-type=module', '-e', STUN_SCRIPT, pathToFileURL(module).href, String(port)], { logName: `stun-${host.name}` })
  await proc.waitForOutput(/stun: listening/, STUN_START_TIMEOUT_MS)
  return proc
}
