/**
 * The NAT lab: real NATs (the Linux kernel's), a real home router (miniupnpd), latency and
 * rate limits, in network namespaces; for tests, benchmarks and `burrow lab`. Needs root.
 *
 * ```ts
 * const lab = await Lab.create({ name: 'my-test' })   // internet ns + bridge on 21.x.y.0/24
 * const relay = await lab.addPublicHost('relay')      // relay.ip = 21.x.y.10
 * const a = await lab.addHome('a', { nat: 'cone', portMapping: { upnp: true, natpmp: true, pcp: false } })
 * const b = await lab.addHome('b', { nat: 'symmetric', hosts: 2, delayMs: 25 })
 * a.router.wanIp; a.router.lanIp; a.hosts[0].ip        // 21.x.y.100, 192.168.1.1, 192.168.1.10
 * await lab.exec(a.hosts[0], 'ping', ['-c1', relay.ip])
 * const p = await lab.spawn(relay, 'some-daemon', [], { logName: 'relay' }) // log in lab.logDir
 * await a.router.flowsBetween(a.router.wanIp, b.router.wanIp)              // conntrack, parsed
 * await a.router.reboot(); await a.router.changeWanAddress()
 * await lab.teardown()                                 // also runs on exit, SIGINT, SIGTERM
 * ```
 *
 * Lab:
 * - `Lab.create(init?: LabInit): Promise<Lab>` (sweeps stale labs of dead runs first)
 * - `addPublicHost(name): Promise<LabHost>`; `addHome(name, HomeInit): Promise<Home>`
 *   (router `<name>-gw`, hosts `<name>` or `<name>1..N`); `addCgnat(name, CgnatInit): Promise<Router>`
 *   and `addHome(name, { behind: cgnat })` for double NAT; `addLanHost(router, name)`
 * - `host(name)`, `router(name)`, `hosts`, `routers`, `homes`, `namespaces`, `id`, `prefix`, `logDir`
 * - `exec(target, cmd, args, RunOptions?)`, `spawn(target, cmd, args, SpawnOptions?): LabProcess`,
 *   `probe(target, args)` / `spawnProbe(target, args)` (plain-socket observer/probe, see probes.ts)
 * - `teardown()`, `teardownSync()`
 * Router: `wanIp`, `lanIp`, `lanSubnet`, `nat`, `hosts`, `setDelay(ms)`, `setRate(mbit)`,
 *   `setConntrackTimeouts({ udpSeconds, udpStreamSeconds, tcpEstablishedSeconds })`, `flows()`,
 *   `flowsBetween(a, b)`, `flushConntrack()`, `forwardPort(PortForward)`,
 *   `startPortMapping({ upnp, natpmp, pcp, privateWan?, extIp? })`, `stopPortMapping()`, `upnpRootUrl`, `listMappings(fromHost?)`, `reboot()`, `changeWanAddress(ip?)`
 * burrow in the lab: `startBurrow(lab, host, init)`, `BurrowNode.waitForStatus(pred, ms)`,
 *   `BurrowNode.cli(args)`, `BurrowNode.stop()`; the scenario behind `burrow lab`: `runScenario(init)`.
 * Housekeeping: `sweepStaleLabs()`, `labUnavailableReason(tools?)`.
 *
 * Names: namespaces `brw-<id>-<name>`, interfaces `brw-<id>-<n><a|b|l>` (≤ 15 bytes); the
 * internet is a random 21.x.y.0/24 (public-looking, so libp2p does not filter it, and never
 * routed outside the lab); LANs 192.168.n.0/24; CGNAT segments 100.64.n.0/24. No veth joins a
 * lab namespace to the host's own; routers forward only inside their namespace.
 */
export { Lab, LabHost, Router, labUnavailableReason, parseUpnpcList, REQUIRED_TOOLS } from './topology.js'
export type { UpnpMapping, LabInit, HomeInit, CgnatInit, Home, ConntrackTimeouts, LabTarget } from './topology.js'
export { NAT_KINDS } from './nat.js'
export type { NatKind, PortForward } from './nat.js'
export type { PortMappingInit } from './upnp.js'
export { privateWanRouterUnavailableReason, PRIVATE_WAN_MINIUPNPD } from './upnp.js'
export { LabProcess } from './process.js'
export type { SpawnOptions } from './process.js'
export type { RunOptions, RunResult } from './exec.js'
export { parseConntrack, flowConnects } from './conntrack.js'
export type { Flow, FlowTuple } from './conntrack.js'
export { sweepStaleLabs, listLabNamespaces, processAlive } from './state.js'
export type { SweepResult } from './state.js'
export { ensureDelayBinary, hasNetem } from './delay.js'
export { LAB_PREFIX } from './constants.js'
export * from './errors.js'
export { startBurrow, BurrowNode, burrowCliPath, LAB_BURROW_PORT, BURROW_START_TIMEOUT_MS } from './burrow.js'
export type { BurrowInit } from './burrow.js'
export { runScenario, formatReport, SCENARIO_STEP_TIMEOUT_MS, SCENARIO_DIRECT_TIMEOUT_MS } from './scenario.js'
export type { ScenarioInit, ScenarioReport, StepResult, LabTransport } from './scenario.js'
export { routerMappings, parseMiniupnpdChain } from './portmap-helpers.js'
export { startLabStun, LAB_STUN_PORT } from './stun.js'
export type { RouterMapping } from './portmap-helpers.js'
