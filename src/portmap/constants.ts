/**
 * Every default of port mapping, with where it comes from.
 */

/** NAT-PMP and PCP servers listen on this UDP port of the default gateway. @see RFC 6886 §3.1, RFC 6887 §19.1 */
export const PCP_SERVER_PORT = 5351

/** NAT-PMP's version byte. @see RFC 6886 §3.2 */
export const NATPMP_VERSION = 0

/** PCP's version byte. @see RFC 6887 §7.1 */
export const PCP_VERSION = 2

/** SSDP multicast group and port. @see UPnP Device Architecture 1.1 §1.3.2 */
export const SSDP_ADDRESS = '239.255.255.250'
export const SSDP_PORT = 1900

/** Search targets sent in M-SEARCH: the IGD device types and the WAN connection services (v1 and v2). */
export const SSDP_SEARCH_TARGETS = [
  'urn:schemas-upnp-org:device:InternetGatewayDevice:1',
  'urn:schemas-upnp-org:device:InternetGatewayDevice:2',
  'urn:schemas-upnp-org:service:WANIPConnection:1',
  'urn:schemas-upnp-org:service:WANIPConnection:2'
]

/** WAN connection services that can map ports, most capable first. */
export const UPNP_WAN_SERVICES = [
  'urn:schemas-upnp-org:service:WANIPConnection:2',
  'urn:schemas-upnp-org:service:WANIPConnection:1',
  'urn:schemas-upnp-org:service:WANPPPConnection:1'
]

/**
 * NAT-PMP/PCP retransmission while probing: RFC 6886 §3.1 starts at 250 ms and doubles;
 * a gateway on the LAN answers in a few ms, so two sends (~750 ms) decide "no answer" in auto mode.
 */
export const PROBE_RETRANSMIT_MS = [250, 500]

/** Retransmission for mapping requests once the gateway is known to speak the protocol (RFC 6886 §3.1: 250 ms, doubling). */
export const REQUEST_RETRANSMIT_MS = [250, 500, 1000, 2000]

/** How long SSDP discovery waits for an IGD to answer (M-SEARCH MX is 1 s, plus the description fetch). */
export const SSDP_TIMEOUT_MS = 2000

/** Largest SSDP answer read: one datagram of a few headers (real ones are 300-400 bytes). */
export const SSDP_MAX_ANSWER_BYTES = 2048

/** SSDP's MX header: the gateway answers within a random delay up to this many seconds. @see UDA 1.1 §1.3.2 */
export const SSDP_MX_SECONDS = 1

/** One HTTP request to the IGD (description or SOAP) may take this long. */
export const UPNP_HTTP_TIMEOUT_MS = 3000

/**
 * Largest UPnP description or SOAP answer read. Real IGD descriptions are a few KiB (the lab's
 * miniupnpd serves about 3 KiB); 64 KiB leaves a wide margin and keeps a hostile body cheap.
 */
export const UPNP_MAX_BODY_BYTES = 64 * 1024

/** Deepest element nesting read: an IGD description nests device > deviceList > device three deep (about 8 levels). */
export const UPNP_MAX_XML_DEPTH = 32

/**
 * Ports an IGD URL (LOCATION, URLBase, controlURL) may not name, even on the gateway: the
 * WHATWG Fetch standard's "bad port" list, the ports browsers refuse for the same reason
 * (an HTTP request there would speak to SMTP, SSH, DNS, ... : request forgery).
 * @see https://fetch.spec.whatwg.org/#port-blocking
 */
export const UPNP_BAD_PORTS: ReadonlySet<number> = new Set([
  0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110,
  111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532,
  540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061,
  6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080
])

/** Largest NAT-PMP / PCP datagram accepted: PCP caps messages at 1100 bytes (RFC 6887 §7). */
export const PCP_MAX_MESSAGE_BYTES = 1100

/** Lifetime asked for: RFC 6886 §3.3 recommends 7200 s for mappings. */
export const DEFAULT_LIFETIME_SECONDS = 7200

/** How often the gateway is asked for its external address and the mappings' state (new public IP, reboot). */
export const DEFAULT_CHECK_INTERVAL_SECONDS = 20

/** After a failed mapping or discovery, try again this long later (then every check interval). */
export const RETRY_AFTER_FAILURE_MS = 5000

/** Deleting mappings on stop must not hold up a clean shutdown for long. */
export const UNMAP_ON_STOP_TIMEOUT_MS = 2000

/** The description UPnP routers show for our mappings. */
export const MAPPING_DESCRIPTION = 'burrow'

/** UPnP error codes worth reacting to. @see UPnP IGD WANIPConnection:2 §2.4.16 */
export const UPNP_ERR_CONFLICT = 718
export const UPNP_ERR_ONLY_PERMANENT_LEASES = 725
export const UPNP_ERR_NO_SUCH_ENTRY = 714

/** How many other external ports to try when UPnP reports a conflict on ours. */
export const UPNP_CONFLICT_RETRIES = 3
