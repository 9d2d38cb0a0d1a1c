// Acceptance 5: `burrow lab --a cone --b cone` prints its report: the relayed path works
// and the connection becomes direct by hole punching.
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import * as labModule from '../../lab/dist/index.js'
import { listLabNamespaces } from '../../lab/dist/index.js'
import { skipReason } from './helpers.ts'
import type { LabScenarioModule } from '../../dist/cli/commands/lab.js'

// `burrow lab` loads the lab at run time (src/ does not import lab/): the type check holds the two to one shape
const _labAsCliSeesIt: LabScenarioModule = labModule

const CLI = fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url))
const STEPS = ['nodes up', 'reservation', 'lookup', 'relayed dial', 'message', 'direct', 'direct msg']

describe('burrow lab --a cone --b cone', { skip: skipReason(['iptables', 'gcc']) }, () => {
  let stdout = ''
  let stderr = ''
  let code: number | null = null
  const steps = new Map<string, { ok: boolean, line: string }>()

  before(() => {
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' })
    assert.match(help.stdout, /^\s+lab\b/m, 'burrow registers the lab command (src/cli/commands/lab.ts; it loads lab/dist/ when run)')
    const before = new Set(listLabNamespaces())
    const r = spawnSync(process.execPath, [CLI, 'lab', '--a', 'cone', '--b', 'cone', '--delay', '5', '--direct-timeout', '15s'], {
      encoding: 'utf8',
      timeout: 180_000
    })
    stdout = r.stdout
    stderr = r.stderr
    code = r.status
    for (const name of STEPS) {
      const line = stdout.split('\n').find(l => new RegExp(`^\\s+(ok|FAIL)\\s+${name}\\s`).test(l))
      if (line !== undefined) steps.set(name, { ok: /^\s+ok\s/.test(line), line: line.trim() })
    }
    const left = listLabNamespaces().filter(ns => !before.has(ns))
    assert.deepEqual(left, [], 'the command tears its lab down')
  })

  it('prints a report with every step, each ok or with its reason', (t) => {
    t.diagnostic(`exit ${code}`)
    for (const line of stdout.trimEnd().split('\n')) t.diagnostic(line)
    assert.match(stdout, /^burrow lab: A behind cone NAT, B behind cone NAT, TCP, 5 ms one-way/m, `report header; stderr: ${stderr}`)
    for (const name of STEPS) {
      const s = steps.get(name)
      assert.ok(s !== undefined, `a "${name}" line`)
      assert.ok(s.ok || /FAIL\s+\S.*\s\S/.test(s.line), `"${name}" says why it failed: ${s.line}`)
    }
    assert.match(stdout, /message RTT: relayed .*, direct /)
    assert.equal(steps.get('nodes up')?.ok, true, 'relay, A and B start in the lab')
    assert.ok(code === 0 || code === 3, `exit 0 (all passed) or 3 (a step failed), not ${code}`)
  })

  it('the relayed path works: reservation, lookup, relayed dial, message', () => {
    for (const name of ['reservation', 'lookup', 'relayed dial', 'message']) {
      assert.equal(steps.get(name)?.ok, true, steps.get(name)?.line)
    }
  })

  it('the connection becomes direct, and later messages use it', () => {
    assert.equal(steps.get('direct')?.ok, true, steps.get('direct')?.line)
    assert.equal(steps.get('direct msg')?.ok, true, steps.get('direct msg')?.line)
  })
})
