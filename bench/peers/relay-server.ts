/**
 * Helper for bench/relay.ts: the stock js-libp2p circuit relay v2 server, its default
 * limits raised to the benchmark's N where it allows (reservations, hop streams,
 * connections, the per-IP inbound dial rate), on 127.0.0.1. Reports {type:'ready', multiaddr}.
 */
import { parseArgs } from 'node:util'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { report } from '../proc.ts'

const { values: opts } = parseArgs({ options: { reservations: { type: 'string', default: '15' }, circuits: { type: 'string', default: '64' } } })
const N = Number(opts.reservations)
const M = Number(opts.circuits)

const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    relay: circuitRelayServer({
      reservations: { maxReservations: N },
      maxInboundHopStreams: M * 2,
      maxOutboundStopStreams: M * 2
    })
  },
  connectionManager: { maxConnections: N + M * 2 + 64, inboundConnectionThreshold: 1e6, maxIncomingPendingConnections: 1000 }
})
report({ type: 'ready', multiaddr: node.getMultiaddrs()[0]?.toString() ?? '', peerId: node.peerId.toString() })
const stop = (): void => { void Promise.resolve(node.stop()).finally(() => process.exit(0)) }
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
