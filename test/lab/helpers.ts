// Shared by the lab tests: skip reasons, JSON-lines parsing, polling.
import { labUnavailableReason } from '../../lab/dist/index.js'
import type { LabProcess } from '../../lab/dist/index.js'

/** Why lab tests cannot run here (not root, a tool missing), or undefined. */
export function skipReason (tools: string[] = []): string | undefined {
  return labUnavailableReason(tools)
}

/** Every JSON object printed one per line. */
export function jsonLines (text: string): Array<Record<string, unknown>> {
  return text.split('\n').filter(l => l.trim().startsWith('{')).map(l => JSON.parse(l) as Record<string, unknown>)
}

/** The first printed object having `key`. */
export function jsonWith<T = unknown> (text: string, key: string): T {
  const found = jsonLines(text).find(o => key in o)
  if (found === undefined) throw new Error(`no line with "${key}" in: ${text}`)
  return found[key] as T
}

/** Waits until a spawned probe has printed a line with `key`, and returns its value. */
export async function waitForKey<T = unknown> (proc: LabProcess, key: string, timeoutMs = 5000): Promise<T> {
  await proc.waitForOutput(new RegExp(`"${key}"`), timeoutMs)
  return jsonWith<T>(proc.recentOutput, key)
}

/** Polls `fn` until it returns something other than undefined, or throws after timeoutMs. */
export async function until<T> (what: string, fn: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

export const port = (addr: string): number => Number(addr.slice(addr.lastIndexOf(':') + 1))
export const ip = (addr: string): string => addr.slice(0, addr.lastIndexOf(':'))
