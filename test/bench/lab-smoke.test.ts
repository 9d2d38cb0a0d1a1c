/**
 * The lab benchmarks must not rot either: time-to-direct and udp-path run once at their
 * smallest size in the NAT lab (root only; skipped otherwise, like every lab test) and must
 * produce well-formed results: a cone × cone trial that went direct over TCP, and one over
 * the UDP path beside a hyperdht trial in the same cell. No timing is asserted.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { runBenchmarks } from '../../bench/run.ts'
import { skipReason } from '../lab/helpers.ts'

const skip = skipReason()

describe('lab benchmarks, smoke size', { skip, timeout: 300_000 }, () => {
  it('time-to-direct and udp-path each run a cone × cone trial to a direct connection', async () => {
    const doc = await runBenchmarks({ size: 'smoke', only: ['time-to-direct', 'udp-path'], write: false, log: () => {} })
    for (const name of ['time-to-direct', 'udp-path']) {
      const r = doc.results.find(x => x.name === name)
      assert.ok(r !== undefined, `${name} ran`)
      assert.equal(r.status, 'ok', `${name}: ${r.status} — ${(r.notes ?? []).join('; ')}`)
    }
    const ttd = doc.results.find(x => x.name === 'time-to-direct')?.figures ?? []
    const tcpSuccess = ttd.find(f => /direct success, TCP, cone×cone, 0 ms/.test(f.label))
    assert.equal(tcpSuccess?.value?.median, 100, `time-to-direct: the TCP trial went direct (${tcpSuccess?.label ?? 'no figure'})`)
    const udp = doc.results.find(x => x.name === 'udp-path')?.figures ?? []
    const udpSuccess = udp.find(f => f.key.endsWith('.success'))
    assert.ok(udpSuccess !== undefined, 'udp-path: a success figure for the cone × cone cell')
    assert.match(udpSuccess.label, /burrow 1\/1, hyperdht 1\/1/, `udp-path: burrow and hyperdht each went direct in the cell (${udpSuccess.note ?? 'no note'})`)
  })
})
