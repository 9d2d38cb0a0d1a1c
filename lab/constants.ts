/** Every lab namespace, interface and state file starts with this; the sweeper touches nothing else. */
export const LAB_PREFIX = 'brw-'

/** Linux interface names are at most 15 bytes (IFNAMSIZ - 1). */
export const IFNAME_MAX = 15

/** Length of the random run id in names: `brw-k3f9-inet`; 36^4 ids keep parallel runs apart. */
export const RUN_ID_LENGTH = 4

/** Per-run state files (owner PID) live here; tmpfs, so a reboot sweeps them too. */
export const STATE_DIR = '/run/burrow-lab'

/** Compiled delay element binaries, keyed by a hash of the C source. */
export const DELAY_CACHE_DIRS = ['/var/cache/burrow-lab']

/** First octet of the lab "internet": 21/8 is public-looking (not filtered by libp2p) and never routed out of the lab. */
export const INTERNET_FIRST_OCTET = 21

/** Host numbers inside the internet /24: .1 is the bridge, public hosts from .10, router WANs from .100. */
export const INTERNET_GATEWAY_HOST = 1
export const PUBLIC_HOST_FIRST = 10
export const PUBLIC_HOST_LAST = 99
export const ROUTER_WAN_FIRST = 100
export const ROUTER_WAN_LAST = 254

/** LAN hosts behind a router start at .10 (router is .1). */
export const LAN_HOST_FIRST = 10

/** SIGTERM first, SIGKILL after this long: daemons get a moment to delete port mappings. */
export const KILL_GRACE_MS = 2000

/** Queue number of the delay element; queues are per network namespace, so one number serves every router. */
export const DELAY_QUEUE_NUM = 0

/** NAT-PMP and PCP share this port (RFC 6886, RFC 6887); the first byte tells them apart (0 vs 2). */
export const NATPMP_PORT = 5351

/** Default time a lab command may take before it is treated as hung. */
export const COMMAND_TIMEOUT_MS = 30_000
