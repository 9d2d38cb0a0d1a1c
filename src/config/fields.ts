/**
 * Every setting burrow has, its default, where it can be set and why the default is
 * what it is. This table is the one documented place for defaults: `burrow config
 * defaults` prints it, from the same rows.
 *
 * Precedence (lowest to highest): these defaults < `config.json` in the home dir <
 * environment variables < command-line flags.
 */

export type FieldKind = 'string' | 'string?' | 'string[]' | 'string[]?' | 'number' | 'boolean'

export interface Field {
  /** dotted path inside config.json, e.g. `messages.maxBytes` */
  path: string
  kind: FieldKind
  default: unknown
  /** environment variable (lists are comma-separated) */
  env: string
  /** daemon flag, when there is one */
  flag?: string
  doc: string
}

const MiB = 1024 * 1024

export const FIELDS: Field[] = [
  { path: 'network', kind: 'string', default: 'amino', env: 'BURROW_NETWORK', flag: '--network', doc: "swarm to join: 'amino' is the public libp2p/IPFS DHT; any other name is an own swarm on /burrow/kad/1.0.0" },
  { path: 'listen', kind: 'string[]', default: ['/ip4/0.0.0.0/tcp/4001', '/ip6/::/tcp/4001'], env: 'BURROW_LISTEN', flag: '--listen', doc: 'multiaddrs to listen on; 4001 is the port kubo and the IPFS swarm use' },
  { path: 'announce', kind: 'string[]', default: [], env: 'BURROW_ANNOUNCE', flag: '--announce', doc: 'addresses others should dial (a port forward made by hand); replaces the detected ones' },
  { path: 'bootstrap', kind: 'string[]?', default: null, env: 'BURROW_BOOTSTRAP', flag: '--bootstrap', doc: "bootstrap peers (/…/p2p/PEERID); null means the network's list in bootstrap/NETWORK.json" },
  { path: 'relayServer', kind: 'string', default: 'auto', env: 'BURROW_RELAY_SERVER', flag: '--relay-server', doc: "offer circuit relay v2: 'auto' (only when publicly reachable), 'on' or 'off'" },
  { path: 'portMapping', kind: 'string', default: 'auto', env: 'BURROW_PORT_MAPPING', flag: '--port-mapping', doc: "ask the home router for a port: 'auto', 'upnp', 'nat-pmp', 'pcp' or 'off'" },
  { path: 'lanOnly', kind: 'boolean', default: false, env: 'BURROW_LAN_ONLY', flag: '--lan-only', doc: 'map nothing, announce only LAN addresses, find LAN peers with mDNS' },
  { path: 'portMappingLifetimeSeconds', kind: 'number', default: 7200, env: 'BURROW_PORT_MAPPING_LIFETIME_SECONDS', doc: 'lifetime asked of the router for a port mapping (RFC 6886 recommends 7200 s); renewed at half of what it grants' },
  { path: 'portMappingCheckSeconds', kind: 'number', default: 20, env: 'BURROW_PORT_MAPPING_CHECK_SECONDS', doc: 'how often the router is asked for its public address and our mappings, so a new IP or a reboot is followed within 30 s' },
  { path: 'portMappingGateway', kind: 'string?', default: null, env: 'BURROW_PORT_MAPPING_GATEWAY', doc: "the router's IPv4 address; null: the default route's gateway. NAT-PMP/PCP ask it, and only its SSDP answers and URLs on it are used (a LAN device cannot redirect the UPnP client)" },
  { path: 'metrics', kind: 'string?', default: null, env: 'BURROW_METRICS', flag: '--metrics', doc: 'HOST:PORT for a Prometheus /metrics endpoint (loopback unless metricsPublic); null turns it off' },
  { path: 'metricsPublic', kind: 'boolean', default: false, env: 'BURROW_METRICS_PUBLIC', flag: '--metrics-public', doc: 'allow metrics on a non-loopback address (a container); off, because they tell anyone who can reach the port about peers, relays and traffic' },
  { path: 'ui', kind: 'string?', default: null, env: 'BURROW_UI', flag: '--ui', doc: 'HOST:PORT for the live view, one web page of this node (loopback unless uiPublic); null turns it off' },
  { path: 'uiPublic', kind: 'boolean', default: false, env: 'BURROW_UI_PUBLIC', flag: '--ui-public', doc: 'allow the live view on a non-loopback address; off, because the page shows peers and messages and its forms dial and send (a per-run token guards them, not a password)' },
  { path: 'dhtMode', kind: 'string', default: 'auto', env: 'BURROW_DHT_MODE', flag: '--dht-mode', doc: "'auto' serves the DHT only when publicly reachable on amino (always on own swarms); 'client' or 'server' force it" },
  { path: 'dialPrivateAddresses', kind: 'string', default: 'auto', env: 'BURROW_DIAL_PRIVATE_ADDRESSES', flag: '--dial-private-addresses', doc: "use private/loopback addresses learned from others: 'auto' (never on amino, so a DHT is no way into someone's LAN; on own swarms only those on one of our own subnets), 'on' (all) or 'off'" },
  { path: 'keepaliveSeconds', kind: 'number', default: 15, env: 'BURROW_KEEPALIVE_SECONDS', doc: 'ping an idle connection this long after its last traffic, well inside the 30 s UDP mappings of common home routers' },
  { path: 'maxConnections', kind: 'number', default: 300, env: 'BURROW_MAX_CONNECTIONS', doc: "connections before the oldest untagged ones are pruned (libp2p's default)" },
  { path: 'compactHeap', kind: 'boolean', default: true, env: 'BURROW_COMPACT_HEAP', doc: 'the daemon runs one memory-reducing V8 collection when ready and once 15 s later, instead of waiting ~30 s for V8 to do it: idle RSS 122 → 97 MB (bench/memory.ts); the young generation grows again under load' },
  { path: 'tcpDialPort', kind: 'number', default: 0, env: 'BURROW_TCP_DIAL_PORT', flag: '--tcp-dial-port', doc: 'local port every outgoing TCP connection leaves from, so a cone NAT maps them all to one public port that hole punching can use; 0 picks a free one at start' },
  { path: 'holePunch', kind: 'boolean', default: true, env: 'BURROW_HOLE_PUNCH', flag: '--punch', doc: 'upgrade relayed connections to direct ones with DCUtR over TCP (libp2p/specs relay/DCUtR.md); `--punch udx` or `webrtc` turns it off' },
  { path: 'holePunchFastUpgrade', kind: 'boolean', default: true, env: 'BURROW_HOLE_PUNCH_FAST_UPGRADE', doc: "between two burrow peers (both DCUtR CONNECTs carry burrow's field 1024), upgrade the punched TCP connection without a round trip for /noise and none for the muxer, as the UDX path does (one path RTT less, docs/dcutr.md); other peers always get the standard upgrade; false: never ask for it" },
  { path: 'udpPunch', kind: 'boolean', default: false, env: 'BURROW_UDP_PUNCH', flag: '--punch', doc: 'the old WebRTC UDP path (ICE with our relays\' STUN), opt-in with `--punch webrtc`: the UDX path (udx) replaces it, and WebRTC costs start time and memory (issue 15)' },
  { path: 'udx', kind: 'boolean', default: true, env: 'BURROW_UDX', flag: '--punch', doc: 'the UDX path: one UDP socket of our own (UDX streams, Noise + yamux), its public address by STUN, and a punch of our own raced with TCP DCUtR (`--punch auto`); `--punch tcp` or `off` turns it off' },
  { path: 'udp.port', kind: 'number', default: 0, env: 'BURROW_UDP_PORT', flag: '--udp-port', doc: 'UDP port of the UDX socket; 0: the TCP listen port number, so one port forward covers both (a free port when that one is taken, said in the log)' },
  { path: 'udp.stunServers', kind: 'string[]?', default: null, env: 'BURROW_UDP_STUN_SERVERS', flag: '--udp-stun-server', doc: "STUN servers asked for the UDX socket's public address and the NAT's UDP mapping (HOST:PORT, 2+ at different IPs tell the mapping), besides burrow relays at stunPort; null: on amino a documented list of well-known public servers (src/udx/constants.ts), elsewhere none; [] or 'none': none" },
  { path: 'udp.keepaliveSeconds', kind: 'number', default: 25, env: 'BURROW_UDP_KEEPALIVE_SECONDS', doc: 'keepalive datagram on an idle direct UDX connection: real routers drop idle UDP mappings after 30 s; the smaller of both peers\' asks is used (at least 5 s)' },
  { path: 'stunServers', kind: 'string[]?', default: null, env: 'BURROW_STUN_SERVERS', flag: '--stun-server', doc: "STUN servers for the UDP path (HOST:PORT or stun:HOST:PORT; 'none' for none); null: the bootstrap peers' hosts at stunPort, never public STUN hosts; [] uses none (LAN candidates only)" },
  { path: 'stunPort', kind: 'number', default: 3478, env: 'BURROW_STUN_PORT', flag: '--stun-port', doc: 'UDP port of the STUN server a relay node runs (RFC 5389\'s default), and of the bootstrap peers\' STUN servers; 0: run none, derive none' },
  { path: 'probing.perSecond', kind: 'number', default: 100, env: 'BURROW_PROBING_PER_SECOND', doc: 'UDX punch through an endpoint-dependent NAT: birthday probes per second per attempt (issue 15: ≤ 100; at 100/s half of all attempts hit within ~1.75 s)' },
  { path: 'probing.maxProbes', kind: 'number', default: 1500, env: 'BURROW_PROBING_MAX_PROBES', doc: 'birthday probes per attempt at most: 15 s at 100/s, a hit in 99.7 % of attempts with 256 sockets (src/udx/birthday.ts has the maths)' },
  { path: 'probing.sockets', kind: 'number', default: 256, env: 'BURROW_PROBING_SOCKETS', doc: 'sockets the endpoint-dependent side opens per attempt (hyperdht\'s figure): each probe hits with p = sockets / 64,512' },
  { path: 'probing.timeoutSeconds', kind: 'number', default: 15, env: 'BURROW_PROBING_TIMEOUT_SECONDS', doc: 'a birthday attempt gives up after this long and the connection stays relayed (issue 15\'s cap)' },
  { path: 'probing.nodePerSecond', kind: 'number', default: 200, env: 'BURROW_PROBING_NODE_PER_SECOND', doc: 'birthday probes per second over all attempts of the node: two attempts at full rate, so many peers cannot multiply the per-attempt cap' },
  { path: 'probing.nodeSockets', kind: 'number', default: 512, env: 'BURROW_PROBING_NODE_SOCKETS', doc: 'probe sockets open at once over all attempts: two attempts of 256, half of the usual 1024 open files left for the rest' },
  { path: 'relay.reservations', kind: 'number', default: 2, env: 'BURROW_RELAY_RESERVATIONS', doc: 'relays to hold a reservation on while private: two, so losing one never leaves the node unreachable' },
  { path: 'relay.maxReservations', kind: 'number', default: 128, env: 'BURROW_RELAY_MAX_RESERVATIONS', doc: "relay server: reservations held at once (go-libp2p's default)" },
  { path: 'relay.maxCircuits', kind: 'number', default: 64, env: 'BURROW_RELAY_MAX_CIRCUITS', doc: 'relay server: circuits (hop streams) open at once over all peers' },
  { path: 'relay.maxPerIp', kind: 'number', default: 16, env: 'BURROW_RELAY_MAX_PER_IP', doc: 'relay server: connections from one IP address (IPv6: one /64) while relay service is offered, so one host cannot take every slot (room for a household or a small CGNAT share)' },
  { path: 'relay.maxReservationsPerIp', kind: 'number', default: 8, env: 'BURROW_RELAY_MAX_RESERVATIONS_PER_IP', doc: "relay server: reservations the connected peers of one IP address (IPv6: one /64) hold at once (go-libp2p: 8 per IP); a reservation ends when its holder disconnects" },
  { path: 'relay.reservationsPerIpPerHour', kind: 'number', default: 60, env: 'BURROW_RELAY_RESERVATIONS_PER_IP_PER_HOUR', doc: 'relay server: new reservations one IP address (IPv6: one /64) gets per hour, refilled evenly, so fresh identities that reserve and leave cannot churn through the relay (rust-libp2p: 60 per IP per hour)' },
  { path: 'relay.maxCircuitsPerPeer', kind: 'number', default: 4, env: 'BURROW_RELAY_MAX_CIRCUITS_PER_PEER', doc: 'relay server: circuits one peer has open at once over all its connections, so also per connection (rust-libp2p: 4 per peer; go-libp2p: 16)' },
  { path: 'relay.maxCircuitsPerIp', kind: 'number', default: 16, env: 'BURROW_RELAY_MAX_CIRCUITS_PER_IP', doc: "relay server: circuits open at once from one IP address (IPv6: one /64): a quarter of relay.maxCircuits, so one host's identities cannot take them all (go-libp2p's 16 circuits, here per IP)" },
  { path: 'relay.reservationTtlSeconds', kind: 'number', default: 3600, env: 'BURROW_RELAY_RESERVATION_TTL_SECONDS', doc: "relay server: reservation lifetime (go-libp2p's default); clients refresh before it ends" },
  { path: 'relay.circuitSeconds', kind: 'number', default: 120, env: 'BURROW_RELAY_CIRCUIT_SECONDS', doc: 'relay server: lifetime of one relayed connection, long enough to hole punch (the relay v2 default)' },
  { path: 'relay.maxHeapMb', kind: 'number', default: 512, env: 'BURROW_RELAY_MAX_HEAP_MB', doc: "with relayServer 'on': V8 heap limit (node --max-old-space-size) the daemon re-runs itself with (same PID) unless Node was given one (NODE_OPTIONS); 0: V8's default, which follows the machine's RAM (4.3 GB on 24 GB) and lets garbage pile up under load: 5,000 reservations + 1,000 circuits took a relay to 1,075 MB RSS without it, 584–598 MB with 512 (bench/relay.ts, two runs on 2026-11-30)" },
  { path: 'relay.circuitBytes', kind: 'number', default: 4 * MiB, env: 'BURROW_RELAY_CIRCUIT_BYTES', doc: 'relay server: bytes one relayed connection may carry; 4 MiB lets a few 1 MiB messages through before the direct upgrade (relay v2 default: 128 KiB)' },
  { path: 'messages.maxBytes', kind: 'number', default: MiB, env: 'BURROW_MESSAGES_MAX_BYTES', doc: 'largest message body sent or accepted; larger ones are answered TOO_LARGE' },
  { path: 'messages.outboxTtlSeconds', kind: 'number', default: 86_400, env: 'BURROW_MESSAGES_OUTBOX_TTL_SECONDS', doc: 'how long an unacknowledged message is retried before it is reported failed (a day covers a laptop that sleeps overnight)' },
  { path: 'messages.retryIntervalSeconds', kind: 'number', default: 30, env: 'BURROW_MESSAGES_RETRY_INTERVAL_SECONDS', doc: 'outbox retry period (a retry also starts whenever the peer connects)' },
  { path: 'messages.maxInboundPerSecond', kind: 'number', default: 100, env: 'BURROW_MESSAGES_MAX_INBOUND_PER_SECOND', doc: 'messages accepted per second from one peer; the excess is answered RATE_LIMITED' },
  { path: 'messages.inboxMaxBytes', kind: 'number', default: 256 * MiB, env: 'BURROW_MESSAGES_INBOX_MAX_BYTES', doc: 'inbox quota over all senders, in stored bytes; past it new messages are answered QUOTA_EXCEEDED and stay in their senders\' outboxes (256 messages of the largest size: a small share of an SD card or a small VPS disk)' },
  { path: 'messages.inboxMaxCount', kind: 'number', default: 10_000, env: 'BURROW_MESSAGES_INBOX_MAX_COUNT', doc: 'inbox quota over all senders, in messages (weeks of chat); past it, QUOTA_EXCEEDED' },
  { path: 'messages.inboxMaxBytesPerSender', kind: 'number', default: 16 * MiB, env: 'BURROW_MESSAGES_INBOX_MAX_BYTES_PER_SENDER', doc: 'inbox quota per sender, in stored bytes: 1/16 of the total, so one PeerId cannot take the inbox from everyone else' },
  { path: 'messages.inboxMaxCountPerSender', kind: 'number', default: 1000, env: 'BURROW_MESSAGES_INBOX_MAX_COUNT_PER_SENDER', doc: 'inbox quota per sender, in messages (1/10 of the total count)' },
  { path: 'messages.inFlightMaxBytes', kind: 'number', default: 32 * MiB, env: 'BURROW_MESSAGES_IN_FLIGHT_MAX_BYTES', doc: 'bytes held for half-received frames over all peers; a frame that would go over is answered RATE_LIMITED (32 frames of the largest size: two busy connections; 12 peers once pinned 258 MB without it)' },
  { path: 'control.maxRequestBytes', kind: 'number', default: 2 * MiB, env: 'BURROW_CONTROL_MAX_REQUEST_BYTES', doc: 'largest control request body: a 1 MiB message travels base64 in JSON (1.34 MiB); raised by itself to fit messages.maxBytes; larger requests are answered 413' },
  { path: 'control.maxConcurrentRequests', kind: 'number', default: 32, env: 'BURROW_CONTROL_MAX_CONCURRENT_REQUESTS', doc: 'control requests in progress at once, streams (inbox --follow, ping) included; the next is answered 503: far above what one user\'s scripts run at once, and each open stream (a listener, its buffers) stays cheap' }
]

/** The defaults as a nested object, built from FIELDS. */
export function defaultsObject (): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of FIELDS) {
    setPath(out, f.path, structuredClone(f.default))
  }
  return out
}

export function setPath (obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.')
  let cur: Record<string, unknown> = obj
  for (const p of parts.slice(0, -1)) {
    if (typeof cur[p] !== 'object' || cur[p] == null) cur[p] = {}
    cur = cur[p] as Record<string, unknown>
  }
  cur[parts[parts.length - 1] ?? path] = value
}

export function getPath (obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj
  for (const p of path.split('.')) {
    if (typeof cur !== 'object' || cur == null) return undefined
    cur = (cur as Record<string, unknown>)[p]
  }
  return cur
}
