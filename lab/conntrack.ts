/** Parsing `conntrack -L` output: the router's view of which flows went where. */

export interface FlowTuple {
  src: string
  dst: string
  sport?: number
  dport?: number
}

export interface Flow {
  protocol: string
  /** TCP state (ESTABLISHED, TIME_WAIT, ...); undefined for UDP */
  state?: string
  /** seconds until the entry expires */
  timeout: number
  /** the direction the first packet went */
  orig: FlowTuple
  /** the direction answers go; differs from orig reversed where NAT rewrote addresses */
  reply: FlowTuple
  assured: boolean
  unreplied: boolean
}

/**
 * Parses lines like
 * `tcp      6 431999 ESTABLISHED src=192.168.1.10 dst=21.4.7.10 sport=40000 dport=4001 src=21.4.7.10 dst=21.4.7.100 sport=4001 dport=40000 [ASSURED] mark=0 use=1`.
 */
export function parseConntrack (text: string): Flow[] {
  const flows: Flow[] = []
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/)
    if (words.length < 4 || !/^\d+$/.test(words[1] ?? '')) continue
    const protocol = words[0] ?? ''
    const timeout = Number.parseInt(words[2] ?? '0', 10)
    let state: string | undefined
    const tuples: Array<Partial<FlowTuple>> = []
    let current: Partial<FlowTuple> | undefined
    let assured = false
    let unreplied = false
    for (const w of words.slice(3)) {
      const eq = w.indexOf('=')
      if (eq === -1) {
        if (w === '[ASSURED]') assured = true
        else if (w === '[UNREPLIED]') unreplied = true
        else if (/^[A-Z_]+$/.test(w) && tuples.length === 0) state = w
        continue
      }
      const key = w.slice(0, eq)
      const value = w.slice(eq + 1)
      if (key === 'src') {
        current = { src: value }
        tuples.push(current)
      } else if (current !== undefined && key === 'dst') {
        current.dst = value
      } else if (current !== undefined && key === 'sport') {
        current.sport = Number.parseInt(value, 10)
      } else if (current !== undefined && key === 'dport') {
        current.dport = Number.parseInt(value, 10)
      }
    }
    const [orig, reply] = tuples
    if (orig?.src === undefined || orig.dst === undefined || reply?.src === undefined || reply.dst === undefined) continue
    flows.push({ protocol, state, timeout, orig: orig as FlowTuple, reply: reply as FlowTuple, assured, unreplied })
  }
  return flows
}

/** Whether a flow has `a` and `b` as its two outside endpoints (in either direction, before or after NAT). */
export function flowConnects (flow: Flow, a: string, b: string): boolean {
  const seen = [flow.orig.src, flow.orig.dst, flow.reply.src, flow.reply.dst]
  return seen.includes(a) && seen.includes(b)
}
