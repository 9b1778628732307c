/**
 * The typed DevMatrix client. It depends on `@devmatrix/core` only: the same schemas the engine
 * journals with validate everything it reads. The WebSocket client arrives with the host.
 *
 * @example
 * import { decodeEventLine } from "@devmatrix/sdk"
 * for (const line of output.split("\n").filter(Boolean)) console.log(decodeEventLine(line))
 */
export { decodeEventLine } from "./eventLines.js"
export type { Event, EventOf, EventType, RunSummary } from "@devmatrix/core"
