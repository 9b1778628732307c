import type { CommandType, ErrorCode } from "@devmatrix/core"
import { Data, Predicate } from "effect"

/**
 * Why a command (or a watch) failed, as the client saw it:
 * - `rejected`: the host replied `error`; `code` is the host's.
 * - `invalid`: its arguments do not match the command's schema; nothing was sent
 *   (`invalid_command`, or `frame_too_large` for a frame over `maxFrameBytes`).
 * - `disconnected`: it was sent, then the connection dropped before its reply: it may or may not
 *   have taken effect (`internal`). Only the read-only `get`, `list` and `reviewList` are sent
 *   again on the next connection instead.
 * - `timeout`: no reply within `commandTimeoutMs` (`internal`); if it was sent, it may or may not
 *   have taken effect.
 * - `closed`: the client was closed, or gave up: a token the host refused (`unauthenticated`), no
 *   connection after `reconnect.maxAttempts` (`internal`).
 * - `bad_reply`: the host's reply does not match the protocol (`internal`): a host newer or older
 *   than this client, or a bug.
 */
export type DevMatrixErrorReason =
  "rejected" | "invalid" | "disconnected" | "timeout" | "closed" | "bad_reply"

/**
 * A command or a watch that failed: `code` is one of the protocol's closed list (`ErrorCode`),
 * so a caller can act on it alone; `message` says what happened, for people. Compare `_tag` (or
 * use `isDevMatrixError`), not `instanceof`, across packages.
 */
export class DevMatrixError extends Data.TaggedError("DevMatrixError")<{
  readonly code: ErrorCode
  readonly reason: DevMatrixErrorReason
  readonly message: string
  /** The command that failed; absent for a failure of the client as a whole. */
  readonly command?: CommandType
  /**
   * The command may or may not have taken effect: it was sent and its reply never came, or the
   * host failed (`internal`). Check (`get`) before repeating one that is not idempotent.
   */
  readonly outcomeUnknown: boolean
}> {}

/** Whether a value is a `DevMatrixError` (by its `_tag`, so it holds across copies of the package). */
export const isDevMatrixError = (value: unknown): value is DevMatrixError =>
  Predicate.isTagged(value, "DevMatrixError")
