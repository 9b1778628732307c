/**
 * The typed DevMatrix client: submit plans to a host, watch their events live (resuming from the
 * last `seq` across reconnects), review atoms, raise budgets, cancel. It depends on
 * `@devmatrix/core` only: the schemas the engine journals with validate every command it sends
 * and every reply it reads. It runs in Node (the `ws` package when there is no global WebSocket)
 * and in browsers (the global `WebSocket`; its browser bundle has no Node built-ins).
 *
 * @example
 * import { createClient } from "@devmatrix/sdk"
 *
 * const client = createClient({ url: "ws://localhost:7420", token: "…" })
 * const { masterplanId } = await client.submit(plan)
 * for await (const event of client.watch(masterplanId)) console.log(event.seq, event.type)
 * await client.close()
 *
 * @example
 * import { decodeEventLine } from "@devmatrix/sdk"
 * for (const line of output.split("\n").filter(Boolean)) console.log(decodeEventLine(line))
 */
export {
  clientDefaults,
  type ClientOptions,
  type ReconnectOptions,
  type WebSocketClass
} from "./ClientOptions.js"
export { createClient, type DevMatrixClient, type SubmitOptions, type WatchOptions } from "./createClient.js"
export { DevMatrixError, isDevMatrixError, type DevMatrixErrorReason } from "./DevMatrixError.js"
export { decodeEventLine } from "./eventLines.js"
export type { ClientState } from "./internal/session.js"
export type {
  CommandResult,
  ErrorCode,
  Event,
  EventOf,
  EventType,
  MasterplanListing,
  MasterplanView,
  Principal,
  ReviewItem,
  RunSummary
} from "@devmatrix/core"
