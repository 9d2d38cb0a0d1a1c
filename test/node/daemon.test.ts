/**
 * The foundation's acceptance, end to end with the real binary: three daemons on
 * 127.0.0.1 with separate homes, A and B bootstrapping from C only.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { stat, writeFile, chmod, access } from 'node:fs/promises'
import { join } from 'node:path'
import { burrow, burrowJson, startDaemon, stopDaemon, stopAll, tempHome, waitFor, ROOT } from '../helpers/burrow.ts'
import type { Daemon } from '../helpers/burrow.ts'

interface InboxLine { id: string, from: string, text?: string }

function inboxLines (stdout: string): InboxLine[] {
  return stdout.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as InboxLine)
}

describe('three daemons on loopback', () => {
  let a: Daemon
  let b: Daemon
  let c: Daemon

  before(async () => {
    c = await startDaemon('c')
    a = await startDaemon('a', { bootstrap: [c.address], env: { BURROW_MESSAGES_MAX_BYTES: '4096' } })
    b = await startDaemon('b', { bootstrap: [c.address] })
  })
  after(stopAll)

  it('B finds A through the DHT, dials it, and a sent message lands once in A\'s inbox', async () => {
    // C learns A when A joins (identify + DHT routing table): wait for the lookup to answer
    const found = await waitFor('B to find A through C', async () => {
      const r = await burrow(b.home, ['find', a.peerId, '--json'])
      return r.code === 0 ? JSON.parse(r.stdout) as { peerId: string, addresses: string[], source: string, answeredBy: string } : undefined
    }, 30_000, 500)
    assert.equal(found.peerId, a.peerId)
    assert.equal(found.source, 'dht')
    // a network lookup, not B's own peer store: another DHT node gave the answer
    assert.notEqual(found.answeredBy, b.peerId)
    assert.ok([a.peerId, c.peerId].includes(found.answeredBy))
    assert.ok(found.addresses.some(x => x.startsWith('/ip4/127.0.0.1/tcp/')), `A's loopback address among ${found.addresses.join(', ')}`)

    const dial = await burrowJson<{ peerId: string, direct: boolean }>(b.home, ['dial', a.peerId])
    assert.equal(dial.peerId, a.peerId)
    assert.equal(dial.direct, true)

    const sent = await burrow(b.home, ['send', a.peerId, 'hello'])
    assert.equal(sent.code, 0, sent.stderr)
    const inbox = inboxLines((await burrow(a.home, ['inbox', '--json'])).stdout)
    assert.equal(inbox.length, 1)
    assert.equal(inbox[0]?.from, b.peerId)
    assert.equal(inbox[0]?.text, 'hello')
  })

  it('stores a message id delivered twice only once', async () => {
    const before = inboxLines((await burrow(a.home, ['inbox', '--json'])).stdout).length
    for (let i = 0; i < 2; i++) {
      const r = await burrow(b.home, ['send', a.peerId, 'once only', '--id', 'fixed-id-1'])
      assert.equal(r.code, 0, r.stderr)
    }
    const inbox = inboxLines((await burrow(a.home, ['inbox', '--json'])).stdout)
    assert.equal(inbox.length, before + 1)
    assert.equal(inbox.filter(m => m.id === 'fixed-id-1').length, 1)
  })

  it('answers bad input with one line and a non-zero exit, and keeps running', async () => {
    const cases: Array<{ args: string[], pattern: RegExp }> = [
      { args: ['dial', '/ip4/127.0.0.1/tcp/notaport'], pattern: /ERR_INVALID_MULTIADDR/ },
      { args: ['find', 'not-a-peer-id'], pattern: /ERR_INVALID_PEER_ID/ },
      { args: ['send', '12D3KooWnope', 'x'], pattern: /ERR_INVALID_PEER_ID/ },
      { args: ['ping', 'QmNope'], pattern: /ERR_INVALID_PEER_ID/ }
    ]
    for (const { args, pattern } of cases) {
      const r = await burrow(b.home, args)
      assert.notEqual(r.code, 0, `${args.join(' ')} should fail`)
      assert.match(r.stderr, pattern)
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`)
    }
    assert.equal(b.child.exitCode, null, 'B still running')
    assert.equal((await burrow(b.home, ['status'])).code, 0)
  })

  it('answers a message over the receiver\'s limit with TOO_LARGE and leaves its inbox unchanged', async () => {
    const before = (await burrow(a.home, ['inbox', '--json'])).stdout
    const r = await burrow(b.home, ['send', a.peerId, 'x'.repeat(5000)])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /TOO_LARGE/)
    assert.equal(r.stderr.trim().split('\n').length, 1)
    assert.equal((await burrow(a.home, ['inbox', '--json'])).stdout, before)
    assert.equal(a.child.exitCode, null, 'A still running')
  })

  it('pings over the direct path', async () => {
    const r = await burrow(b.home, ['ping', a.peerId, '--count', '2', '--no-until-direct', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const replies = r.stdout.trim().split('\n').map(l => JSON.parse(l) as { path: string, rttMs: number })
    assert.equal(replies.length, 2)
    assert.ok(replies.every(x => x.path === 'direct' && x.rttMs >= 0))
  })

  it('keeps the control socket and the identity key at 0600', async () => {
    assert.equal((await stat(join(a.home, 'burrow.sock'))).mode & 0o777, 0o600)
    assert.equal((await stat(join(a.home, 'identity.key'))).mode & 0o777, 0o600)
  })

  it('restarted, A keeps its PeerId and rejoins without a bootstrap list', async () => {
    assert.equal(await stopDaemon(a), 0)
    const again = await startDaemon('a2', { home: a.home })
    assert.equal(again.peerId, a.peerId)
    const peers = await waitFor('A to reconnect to B or C', async () => {
      const list = await burrowJson<Array<{ peerId: string }>>(again.home, ['peers'])
      return list.some(p => p.peerId === b.peerId || p.peerId === c.peerId) ? list : undefined
    }, 20_000)
    assert.ok(peers.length > 0)
    // the inbox survived the restart too
    const inbox = inboxLines((await burrow(again.home, ['inbox', '--json'])).stdout)
    assert.ok(inbox.some(m => m.text === 'hello'))
    a = again
  })

  it('on SIGTERM exits 0 within 5 s and leaves no socket file', async () => {
    const started = Date.now()
    const code = await stopDaemon(b, 5000)
    assert.equal(code, 0, 'a clean exit, not a SIGKILL after the grace period')
    assert.ok(Date.now() - started <= 5500)
    await assert.rejects(access(join(b.home, 'burrow.sock')), /ENOENT/)
  })
})

describe('refusals at start', () => {
  after(stopAll)

  async function startFails (home: string, args: string[]): Promise<string> {
    const r = await burrow(home, ['daemon', '--network', 'test', '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', '/ip4/127.0.0.1/tcp/9/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq', ...args], { timeoutMs: 20_000 })
    assert.notEqual(r.code, 0)
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`)
    return r.stderr
  }

  it('refuses an unknown config key', async () => {
    const home = await tempHome('badkey')
    await writeFile(join(home, 'config.json'), JSON.stringify({ lisen: ['/ip4/0.0.0.0/tcp/1'] }))
    assert.match(await startFails(home, []), /unknown key 'lisen'/)
  })

  it('refuses a bad port', async () => {
    assert.match(await startFails(await tempHome('badport'), ['--listen', '/ip4/127.0.0.1/tcp/70000']), /listen\[1\].*65535/)
  })

  it('refuses a malformed bootstrap multiaddr', async () => {
    assert.match(await startFails(await tempHome('badboot'), ['--bootstrap', '/ip4/1.2.3/tcp/1']), /bootstrap/)
  })

  it('refuses a key others can read', async () => {
    const home = await tempHome('key644')
    assert.equal((await burrow(home, ['id'])).code, 0)
    await chmod(join(home, 'identity.key'), 0o644)
    assert.match(await startFails(home, []), /ERR_INSECURE_KEY.*chmod 600/)
  })

  it('says in one line when no daemon runs', async () => {
    const home = await tempHome('nodaemon')
    for (const cmd of [['status'], ['peers'], ['inbox'], ['send', '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq', 'x']]) {
      const r = await burrow(home, cmd)
      assert.notEqual(r.code, 0)
      assert.match(r.stderr, /ERR_NO_DAEMON: no burrow daemon is running/)
      assert.equal(r.stderr.trim().split('\n').length, 1)
    }
  })
})

describe('the README run command', () => {
  after(stopAll)

  it('`npm start` starts a node that prints its PeerId', async () => {
    const c = await startDaemon('readme-boot')
    const home = await tempHome('readme')
    // detached: its own process group, so the npm → sh → node chain is killed together
    const child = spawn('npm', ['start'], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BURROW_HOME: home, BURROW_NETWORK: 'test', BURROW_LISTEN: '/ip4/127.0.0.1/tcp/0', BURROW_BOOTSTRAP: c.address }
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { out += d.toString() })
    try {
      const peerId = await waitFor('the PeerId line', async () => /^PeerId: (12D3KooW\w+)$/m.exec(out)?.[1], 60_000)
      const id = await burrow(home, ['id'])
      assert.equal(id.stdout.trim(), peerId)
    } finally {
      if (child.pid != null) process.kill(-child.pid, 'SIGTERM')
      await new Promise(resolve => { if (child.exitCode != null) resolve(null); else child.on('exit', resolve) })
    }
  })
})
