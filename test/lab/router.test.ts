// Router knobs and observability: conntrack timeouts (per namespace), conntrack flows between
// two WAN addresses (direct or via a relay), rate limits, and safety of the topology itself.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Lab } from '../../lab/dist/index.js'
import { skipReason, waitForKey } from './helpers.ts'
import type { Home, LabHost } from '../../lab/dist/index.js'

describe('router knobs and observability', { skip: skipReason(['conntrack']) }, () => {
  let lab: Lab
  let relay: LabHost
  let a: Home
  let b: Home

  before(async () => {
    lab = await Lab.create({ name: 'router' })
    relay = await lab.addPublicHost('relay')
    a = await lab.addHome('a', { nat: 'cone' })
    b = await lab.addHome('b', { nat: 'none' })
    await waitForKey(await lab.spawnProbe(relay, ['observe', '3478']), 'observing')
    await waitForKey(await lab.spawnProbe(b.hosts[0]!, ['observe', '3478']), 'observing')
  })

  after(async () => {
    await lab?.teardown()
  })

  it('shortens NAT mapping timeouts on one router only', async () => {
    const host = readFileSync('/proc/sys/net/netfilter/nf_conntrack_udp_timeout', 'utf8').trim()
    await a.router.setConntrackTimeouts({ udpSeconds: 7, udpStreamSeconds: 9, tcpEstablishedSeconds: 30 })
    const read = async (k: string): Promise<string> => (await lab.exec(a.router, 'sysctl', ['-n', `net.netfilter.${k}`])).stdout.trim()
    assert.equal(await read('nf_conntrack_udp_timeout'), '7')
    assert.equal(await read('nf_conntrack_udp_timeout_stream'), '9')
    assert.equal(await read('nf_conntrack_tcp_timeout_established'), '30')
    assert.equal((await lab.exec(b.router, 'sysctl', ['-n', 'net.netfilter.nf_conntrack_udp_timeout'])).stdout.trim(), host, 'other routers keep theirs')
    assert.equal(readFileSync('/proc/sys/net/netfilter/nf_conntrack_udp_timeout', 'utf8').trim(), host, 'the host keeps its own')
  })

  it('conntrack tells direct traffic between two WAN addresses from traffic via the relay', async () => {
    await a.router.flushConntrack()
    await lab.probe(a.hosts[0]!, ['probe', 'udp', '48000', '0', `${relay.ip}:3478`])
    assert.deepEqual(await a.router.flowsBetween(a.router.wanIp, b.router.wanIp), [], 'via the relay only: no direct flow')
    assert.equal((await a.router.flowsBetween(a.router.wanIp, relay.ip)).length, 1)
    await lab.probe(a.hosts[0]!, ['probe', 'udp', '48001', '0', `${b.router.wanIp}:3478`])
    const direct = await a.router.flowsBetween(a.router.wanIp, b.router.wanIp)
    assert.equal(direct.length, 1)
    assert.equal(direct[0]!.protocol, 'udp')
    assert.equal(direct[0]!.orig.src, a.hosts[0]!.ip)
    assert.equal(direct[0]!.reply.dst, a.router.wanIp)
  })

  it('rate limits the WAN link in both directions with tbf', async () => {
    await a.router.setRate(50)
    const up = await lab.exec(a.router, 'tc', ['qdisc', 'show', 'dev', a.router.wan])
    const down = await lab.exec(a.router.wanPeer.ns, 'tc', ['qdisc', 'show', 'dev', a.router.wanPeer.iface])
    for (const r of [up, down]) assert.match(r.stdout, /(tbf|netem).*rate 50Mbit/)
    await a.router.setRate(undefined)
    assert.doesNotMatch((await lab.exec(a.router, 'tc', ['qdisc', 'show', 'dev', a.router.wan])).stdout, /tbf/)
  })

  it('keeps the lab closed: no interface of it in the host namespace, no default route out of the lab', async () => {
    assert.ok(!spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout.includes(lab.prefix))
    const pubRoutes = (await lab.exec(relay, 'ip', ['route'])).stdout
    assert.doesNotMatch(pubRoutes, /default/, 'public hosts know only the lab /24')
    const routerRoutes = (await lab.exec(a.router, 'ip', ['route', 'show', 'default'])).stdout
    assert.match(routerRoutes, new RegExp(`default via ${lab.internet.gateway.replaceAll('.', '\\.')} dev ${a.router.wan}`))
    for (const ns of lab.namespaces) assert.ok(ns.startsWith(lab.prefix), ns)
    assert.equal((await lab.exec(lab.internet.ns, 'sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout.trim(), '0', 'the internet namespace routes nowhere')
  })
})
