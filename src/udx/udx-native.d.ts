/**
 * Types for `udx-native` (the package ships none): the parts burrow uses.
 * @see node_modules/udx-native/README.md
 */
declare module 'udx-native' {
  import type { EventEmitter } from 'node:events'
  import type { Duplex } from 'node:stream'

  export interface UDXAddress { host: string, family: number, port: number }

  export class UDXSocket extends EventEmitter {
    readonly udx: UDX
    readonly bound: boolean
    readonly closing: boolean
    readonly idle: boolean
    readonly streams: Set<UDXStream>
    address (): UDXAddress
    bind (port?: number, host?: string): void
    close (): Promise<void>
    setTTL (ttl: number): void
    send (buffer: Uint8Array, port: number, host?: string, ttl?: number): Promise<boolean>
    trySend (buffer: Uint8Array, port: number, host?: string, ttl?: number): void
    on (event: 'message', listener: (buf: Buffer, from: UDXAddress) => void): this
    on (event: 'close' | 'idle' | 'busy' | 'listening', listener: () => void): this
    on (event: 'error', listener: (err: Error) => void): this
  }

  export interface UDXStreamOptions {
    /** true: drop the packet (the default drops every packet from an unknown sender) */
    firewall?: (socket: UDXSocket, port: number, host: string) => boolean
    framed?: boolean
    seq?: number
  }

  /** A streamx Duplex; typed as Node's Duplex for the parts both share (write, end, destroy, events). */
  export interface UDXStream extends Duplex {
    readonly id: number
    readonly remoteId: number
    readonly remoteHost: string | null
    readonly remotePort: number
    readonly connected: boolean
    readonly rtt: number
    readonly mtu: number
    connect (socket: UDXSocket, remoteId: number, port: number, host?: string, opts?: Record<string, unknown>): void
    setInteractive (on: boolean): void
  }

  export default class UDX {
    constructor ()
    createSocket (opts?: { ipv6Only?: boolean, reuseAddress?: boolean }): UDXSocket
    createStream (id: number, opts?: UDXStreamOptions): UDXStream
    static isIPv4 (host: string): boolean
  }
}
