/**
 * A burrow node made with the library's createNode(), for the events tests: run as a
 * program in a lab host (`node library-peer.ts HOME BOOTSTRAP…`), it prints
 * `{"ready":PEERID}` once started, then every event of `node.addEventListener('event')`
 * as one JSON line, and stops cleanly on SIGTERM.
 */
import { createNode } from '../../dist/index.js'
import type { BurrowEvent } from '../../dist/index.js'

const [home, ...bootstrap] = process.argv.slice(2)
if (home == null) throw new Error('usage: library-peer.ts HOME BOOTSTRAP…')
const node = await createNode({
  home,
  config: { network: 'lab', listen: ['/ip4/0.0.0.0/tcp/4001'], bootstrap, dhtMode: 'client' }
})
// listening before start: the first connections are events too
node.addEventListener('event', (evt: CustomEvent<BurrowEvent>) => { process.stdout.write(JSON.stringify(evt.detail) + '\n') })
await node.start()
process.stdout.write(JSON.stringify({ ready: node.peerId.toString() }) + '\n')
process.once('SIGTERM', () => { void node.stop().finally(() => process.exit(0)) })
