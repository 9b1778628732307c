import type { WebSocketClass } from "../ClientOptions.js"

/** The part of a WebSocket the client uses, as the browser's and `ws`'s both have it. */
export interface WebSocketLike {
  binaryType: string
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
  onopen: (() => void) | null
  onmessage: ((event: { readonly data: unknown }) => void) | null
  onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null
  onerror: ((event: { readonly message?: unknown }) => void) | null
}

/**
 * The WebSocket class to use: the one given, else the global one (browsers, Node 22), else the
 * `ws` package's (Node 20 has no global WebSocket). A browser bundle maps `ws` to an empty module
 * (the `browser` field of package.json), and never gets that far.
 */
export const loadWebSocket = async (given: WebSocketClass | undefined): Promise<WebSocketClass> => {
  if (given !== undefined) return given
  const global = (globalThis as { readonly WebSocket?: unknown }).WebSocket
  if (typeof global === "function") return global as WebSocketClass
  const ws = (await import("ws")) as { readonly WebSocket?: unknown }
  if (typeof ws.WebSocket === "function") return ws.WebSocket as WebSocketClass
  throw new Error("no WebSocket here: pass a WebSocket class as the WebSocket option of createClient")
}

/** A binary message's bytes (an `ArrayBuffer` with `binaryType` "arraybuffer"; a Node `Buffer` is a view); a text message has none. */
export const bytesOf = (data: unknown): Uint8Array | undefined => {
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return undefined
}
