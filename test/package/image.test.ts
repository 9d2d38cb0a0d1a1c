// The image, built and run as a user would: `podman build` of the Dockerfile, then the
// container: the daemon runs as the non-root user, `burrow status` inside answers, the
// HEALTHCHECK passes, the ports are exposed, production node_modules has no react-native and
// still loads @libp2p/webrtc, and the home volume keeps the PeerId in a new container.
// No container registry is reachable here: scripts/podman-base-image.sh builds a stand-in for
// node:22-bookworm-slim once (debootstrap + the Node 22 binary of node_modules/node) and podman
// keeps it; the build uses --pull=never. Containers run with --network none (own swarm, no
// bootstrap peer, no port mapping: they contact nothing). The build's `npm ci` reaches the npm
// registry. Every container, volume and image the test made is removed by id, even on failure.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from '../helpers/burrow.ts'

interface Run { code: number, stdout: string, stderr: string }

async function run (cmd: string, args: string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise(resolve => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err == null ? 0 : (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1)
      resolve({ code, stdout, stderr })
    })
  })
}

async function podman (args: string[], timeoutMs?: number): Promise<Run> {
  return run('podman', args, timeoutMs)
}

/** Why podman cannot build and run images here, or undefined. */
function skipReason (): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (podman with the system store)'
  try {
    execFileSync('podman', ['info', '--format', '{{.Host.OCIRuntime.Name}}'], { stdio: 'pipe', timeout: 60_000 })
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer }
    const why = e.code === 'ENOENT' ? 'not installed: .ci/run installs it' : (e.stderr?.toString().trim().split('\n').at(-1) ?? e.message)
    return `podman cannot run here (${why})`
  }
  const hasBase = (() => { try { execFileSync('podman', ['image', 'exists', BASE], { stdio: 'pipe' }); return true } catch { return false } })()
  if (!hasBase) {
    try { execFileSync('debootstrap', ['--version'], { stdio: 'pipe' }) } catch { return `no ${BASE} in podman's store and no debootstrap to build a stand-in (.ci/run installs it)` }
  }
  return undefined
}

const BASE = 'docker.io/library/node:22-bookworm-slim'
const tag = `brw-img-${process.pid}-${randomBytes(3).toString('hex')}`
const IMAGE = `localhost/${tag}:test`
const VOLUME = `${tag}-home`
const NETWORK = 'pkg-image-test'
const HOST_FORWARD = '/proc/sys/net/ipv4/ip_forward'

describe('the image, built and run with podman', { skip: skipReason(), timeout: 1_200_000 }, () => {
  const containers: string[] = []
  let built = false
  let volume = false
  let hostForward: string | undefined
  let cannotRun: string | undefined

  /** Starts the daemon in a new container on the home volume; waits for "ready"; returns id and PeerId. */
  async function startContainer (n: number): Promise<{ id: string, peerId: string }> {
    const r = await podman(['run', '-d', '--name', `${tag}-${n}`, '--network', 'none', '--health-interval', 'disable',
      '-v', `${VOLUME}:/home/burrow/.burrow`, IMAGE, '--network', NETWORK, '--port-mapping', 'off'])
    assert.equal(r.code, 0, `podman run: ${r.stderr}`)
    const id = r.stdout.trim()
    containers.push(id)
    const deadline = Date.now() + 120_000
    for (;;) {
      const logs = await podman(['logs', id])
      const out = logs.stdout + logs.stderr
      const peerId = /^PeerId: (\S+)$/m.exec(out)?.[1]
      if (/^ready$/m.test(out) && peerId !== undefined) return { id, peerId }
      const state = (await podman(['inspect', '--format', '{{.State.Status}}', id])).stdout.trim()
      assert.ok(state === 'running' || state === 'created', `the container is ${state}:\n${out}`)
      assert.ok(Date.now() < deadline, `the daemon printed no "ready" line:\n${out}`)
      await new Promise(resolve => setTimeout(resolve, 500))
    }
  }

  before(async () => {
    hostForward = readFileSync(HOST_FORWARD, 'utf8').trim()
    const started = Date.now()
    const base = await run('bash', [join(ROOT, 'scripts', 'podman-base-image.sh'), BASE], 600_000)
    assert.equal(base.code, 0, `stand-in base image: ${base.stderr}`)
    const baseMs = Date.now() - started
    // podman may install yet not run containers (crun failing on setrlimit on some machines,
    // see .ci/run): a trivial container on the base tells that apart from a fault of ours
    const probe = await podman(['run', '--rm', '--network', 'none', BASE, 'true'])
    if (probe.code !== 0) {
      cannotRun = `podman cannot run containers here: ${probe.stderr.trim().split('\n').at(-1) ?? ''} (.ci/run configures runc)`
      return
    }
    // --network host: the RUN steps (npm ci) use the host's network as they are, so podman
    // makes no bridge and leaves the host's net.ipv4.ip_forward alone (restored in after()
    // all the same)
    const b = await podman(['build', '--pull=never', '--network', 'host', '--format', 'docker', '--layers', '-t', IMAGE, ROOT], 900_000)
    built = b.code === 0
    assert.equal(b.code, 0, `podman build:\n${(b.stdout + b.stderr).slice(-4000)}`)
    const v = await podman(['volume', 'create', VOLUME])
    volume = v.code === 0
    assert.equal(v.code, 0, v.stderr)
    const size = (await podman(['image', 'inspect', '--format', '{{.Size}}', IMAGE])).stdout.trim()
    console.log(`image test: base image ${baseMs} ms, build ${Date.now() - started - baseMs} ms, image ${(Number(size) / 1e6).toFixed(0)} MB`)
  })

  after(async () => {
    for (const id of containers) await podman(['rm', '-f', '-t', '0', id])
    if (volume) await podman(['volume', 'rm', '-f', VOLUME])
    if (built) await podman(['rmi', '-f', IMAGE])
    if (hostForward !== undefined && readFileSync(HOST_FORWARD, 'utf8').trim() !== hostForward) writeFileSync(HOST_FORWARD, hostForward)
  })

  it('declares the ports, the volume and a HEALTHCHECK', async (t) => {
    if (cannotRun !== undefined) { t.skip(cannotRun); return }
    const r = await podman(['image', 'inspect', '--format', '{{json .Config}}', IMAGE])
    assert.equal(r.code, 0, r.stderr)
    const config = JSON.parse(r.stdout) as { ExposedPorts?: Record<string, unknown>, Volumes?: Record<string, unknown>, User?: string }
    const h = await podman(['image', 'inspect', '--format', '{{json .HealthCheck}}', IMAGE])
    const healthcheck = JSON.parse(h.stdout) as { Test?: string[] } | null
    assert.deepEqual(Object.keys(config.ExposedPorts ?? {}).sort(), ['3478/udp', '3479/udp', '4001/tcp'])
    assert.ok('/home/burrow/.burrow' in (config.Volumes ?? {}), 'home volume')
    assert.deepEqual(healthcheck?.Test, ['CMD', 'burrow', 'status'])
    assert.equal(config.User, 'burrow')
  })

  it('runs the daemon as the non-root user; `burrow status` answers; the HEALTHCHECK passes; PeerId survives a new container', async (t) => {
    if (cannotRun !== undefined) { t.skip(cannotRun); return }
    const first = await startContainer(1)
    const top = await podman(['top', first.id, 'user', 'args'])
    assert.equal(top.code, 0, top.stderr)
    const daemonLine = top.stdout.split('\n').find(l => /burrow daemon/.test(l))
    assert.ok(daemonLine !== undefined, top.stdout)
    assert.match(daemonLine, /^burrow\s/, 'the daemon runs as user burrow')

    const status = await podman(['exec', first.id, 'burrow', 'status', '--json'])
    assert.equal(status.code, 0, status.stderr)
    assert.equal((JSON.parse(status.stdout) as { peerId: string }).peerId, first.peerId)

    const health = await podman(['healthcheck', 'run', first.id])
    assert.equal(health.code, 0, `healthcheck: ${health.stdout}${health.stderr}`)

    // production node_modules: no react-native, and the WebRTC transport still loads
    const rn = await podman(['exec', first.id, 'sh', '-c', 'test ! -e /app/node_modules/react-native && cd /app && node --input-type=module -e "await import(\'@libp2p/webrtc\')"'])
    assert.equal(rn.code, 0, `react-native absent and @libp2p/webrtc loads: ${rn.stderr}`)

    const stop = await podman(['stop', '-t', '20', first.id])
    assert.equal(stop.code, 0, stop.stderr)
    assert.equal((await podman(['inspect', '--format', '{{.State.ExitCode}}', first.id])).stdout.trim(), '0', 'SIGTERM stops the daemon cleanly')
    const unhealthy = await podman(['healthcheck', 'run', first.id])
    assert.notEqual(unhealthy.code, 0, 'no healthy answer from a stopped container')

    const second = await startContainer(2)
    assert.equal(second.peerId, first.peerId, 'the home volume keeps the identity')
  })
})
