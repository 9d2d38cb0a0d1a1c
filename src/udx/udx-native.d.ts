/**
 * Types for `udx-native` (the package ships none). Minimal: what burrow calls. Owned by the UDX
 * transport (engineer "udx"); this copy exists only until that one lands (the merge keeps theirs).
 */
declare module 'udx-native' {
  import type { EventEmitter } from 'node:events'
  import type { Duplex } from 'node:stream'

  namespace UDX {
    interface UDXAddress { host: string, family: number, port: number }

    interface UDXSocket extends EventEmitter {
      readonly udx: UDX
      readonly bound: boolean
      readonly closing: boolean
      readonly idle: boolean
      bind (port?: number, host?: string): void
      address (): UDXAddress | null
      /** resolves true once the datagram left; `ttl` applies to this datagram only (0 or absent: the socket's) */
      send (buf: Uint8Array, port: number, host?: string, ttl?: number): Promise<boolean>
      trySend (buf: Uint8Array, port: number, host?: string, ttl?: number): void
      setTTL (ttl: number): void
      close (): Promise<void>
      on (event: 'message', listener: (buf: Buffer, from: UDXAddress) => void): this
      on (event: 'close' | 'listening' | 'idle' | 'busy', listener: () => void): this
      on (event: string, listener: (...args: never[]) => void): this
      off (event: string, listener: (...args: never[]) => void): this
    }

    interface UDXStream extends Duplex {
      readonly id: number
      readonly remoteId: number
      readonly remoteHost: string | null
      readonly remotePort: number
      readonly connected: boolean
      readonly rtt: number
      connect (socket: UDXSocket, remoteId: number, port: number, host?: string, opts?: Record<string, unknown>): void
    }
  }

  class UDX {
    constructor ()
    createSocket (opts?: { ipv6Only?: boolean, reuseAddress?: boolean }): UDX.UDXSocket
    createStream (id: number, opts?: Record<string, unknown>): UDX.UDXStream
  }

  export = UDX
}
