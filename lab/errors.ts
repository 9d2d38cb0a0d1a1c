import { BurrowError } from 'burrow'

/** The lab needs root (network namespaces, nftables); says so instead of failing halfway. */
export class LabNotRootError extends BurrowError {
  constructor (message = 'the NAT lab needs root (network namespaces and nftables)') {
    super('ERR_LAB_NOT_ROOT', message)
  }
}

/** A program the lab drives (ip, nft, miniupnpd, gcc, ...) is not installed. */
export class LabToolMissingError extends BurrowError {
  readonly tool: string

  constructor (tool: string, message?: string) {
    super('ERR_LAB_TOOL_MISSING', message ?? `the NAT lab needs "${tool}", which is not installed`)
    this.tool = tool
  }
}

/** A command the lab ran exited non-zero. */
export class LabCommandError extends BurrowError {
  readonly command: string
  readonly exitCode: number | null
  readonly stderr: string

  constructor (command: string, exitCode: number | null, stderr: string) {
    super('ERR_LAB_COMMAND', `"${command}" failed (exit ${exitCode ?? 'signal'}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`)
    this.command = command
    this.exitCode = exitCode
    this.stderr = stderr
  }
}

/** The topology asked for cannot be built (bad name, out of addresses, unknown host, torn down lab). */
export class LabTopologyError extends BurrowError {
  constructor (message: string) {
    super('ERR_LAB_TOPOLOGY', message)
  }
}

/** The delay element (C program on NFQUEUE) could not be compiled or did not start. */
export class LabDelayElementError extends BurrowError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_LAB_DELAY_ELEMENT', message, options)
  }
}

/** A burrow process in the lab did not start, answer, or reach the awaited state. */
export class LabNodeError extends BurrowError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_LAB_NODE', message, options)
  }
}
