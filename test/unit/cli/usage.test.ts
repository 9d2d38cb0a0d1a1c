/**
 * Flag values are parsed strictly (issue 14): a bad count or duration is one coded line
 * naming the flag, exit 2 — never a silent default (`ping --count abc` used to send 4) or
 * a null (`dial --wait-direct 10s` used to print nothing and exit 3).
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { burrow, tempHome } from '../../helpers/burrow.ts'
import { rm } from 'node:fs/promises'

describe('CLI usage errors', () => {
  let home = ''
  after(async () => { if (home !== '') await rm(home, { recursive: true, force: true }) })

  it('bad counts, durations and flags: one ERR_USAGE line naming the flag, exit 2', async () => {
    home = await tempHome('usage')
    for (const [args, flag] of [
      [['ping', '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq', '--count', 'abc'], '--count'],
      [['ping', '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq', '--count', '0'], '--count'],
      [['dial', '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq', '--wait-direct', '10x'], '--wait-direct'],
      [['status', '--bogus'], '--bogus']
    ] as Array<[string[], string]>) {
      const r = await burrow(home, args)
      assert.equal(r.code, 2, `${args.join(' ')}: exit 2 (${r.stderr})`)
      const lines = r.stderr.trim().split('\n')
      assert.equal(lines.length, 1, `${args.join(' ')}: one line: ${r.stderr}`)
      assert.match(lines[0] ?? '', /^burrow: ERR_USAGE: /)
      assert.ok(lines[0]?.includes(flag), `${args.join(' ')}: names ${flag}: ${r.stderr}`)
    }
  })

  it('durations with units are understood: --wait-direct 10s and 1500ms get past parsing', async () => {
    home = home !== '' ? home : await tempHome('usage')
    for (const d of ['10', '10s', '1500ms']) {
      const r = await burrow(home, ['dial', '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq', '--wait-direct', d])
      // no daemon runs for this home: the value was accepted and the client got as far as the socket
      assert.match(r.stderr, /ERR_NO_DAEMON/, `--wait-direct ${d}: ${r.stderr}`)
      assert.equal(r.code, 1)
    }
  })
})
