import type {
  CommandResult,
  CommandType,
  Event,
  PlanInputEncoded,
  Principal,
  RunOptionsInput
} from "@devmatrix/core"
import { clientSettingsOf, type ClientOptions } from "./ClientOptions.js"
import { Session, type ClientState } from "./internal/session.js"

/** How `submit` runs a plan. */
export interface SubmitOptions {
  /** Run options as `plan.json` gives them; the host resolves their defaults with the plan's. */
  readonly options?: RunOptionsInput
  /** The masterplan's id, when the caller chooses it. @default one the host makes up */
  readonly masterplanId?: string
}

/** Where a `watch` starts. */
export interface WatchOptions {
  /** The first event to see: 1 replays the whole journal; a consumer that saw up to `n` resumes at `n + 1`. @default 1 */
  readonly fromSeq?: number
}

/**
 * A typed client of a DevMatrix host, over one WebSocket that it opens again whenever it drops.
 *
 * Every method sends one command and resolves with its decoded result, or rejects with a
 * `DevMatrixError` (its `code`, its `reason`, and whether the command may have taken effect).
 * A command made while the client is (re)connecting waits for the connection, within
 * `commandTimeoutMs`. A command whose connection drops after it was sent and before its reply
 * may or may not have taken effect: it rejects (`disconnected`) and is not sent again, except
 * `get`, `list` and `reviewList`, which only read and are sent again on the next connection.
 */
export interface DevMatrixClient extends AsyncDisposable {
  /** Where the client is: `connecting`, `open`, `reconnecting` or `closed`. */
  readonly state: ClientState
  /** Who the token is, once the host has acknowledged it (within `commandTimeoutMs`). */
  ready(): Promise<Principal>
  /** Submits a plan; resolves with its masterplan id once the host has accepted it. */
  submit(plan: PlanInputEncoded, options?: SubmitOptions): Promise<CommandResult<"submit">>
  /** A masterplan's state: its listing, atoms by status, cost, and summary once it has ended. */
  get(masterplanId: string): Promise<CommandResult<"get">>
  /** The masterplans the token's tenant can see. */
  list(): Promise<CommandResult<"list">>
  /** Cancels a masterplan; its atoms in flight are interrupted. */
  cancel(masterplanId: string, options?: { readonly reason?: string }): Promise<CommandResult<"cancel">>
  /** Pauses a masterplan: no atom starts until `resume`; calls in flight finish. */
  pause(masterplanId: string, options?: { readonly reason?: string }): Promise<CommandResult<"pause">>
  /** Resumes a paused masterplan. */
  resume(masterplanId: string): Promise<CommandResult<"resume">>
  /** Raises a masterplan's hard budget, in USD (a plan paused by its budget can then be resumed). */
  raiseBudget(masterplanId: string, hardUsd: number): Promise<CommandResult<"raiseBudget">>
  /** The atoms of a masterplan waiting for review. */
  reviewList(masterplanId: string): Promise<CommandResult<"reviewList">>
  /** Accepts an atom's code as it is. */
  approve(masterplanId: string, atomId: string): Promise<CommandResult<"approve">>
  /** Accepts an atom with `code` in place of the model's. */
  edit(masterplanId: string, atomId: string, code: string): Promise<CommandResult<"edit">>
  /** Refuses an atom's code, saying why: the atom fails, and its dependents with it. */
  reject(masterplanId: string, atomId: string, reason: string): Promise<CommandResult<"reject">>
  /**
   * A masterplan's events from `fromSeq` on, journaled then live, typed by core's `Event`; the
   * iteration ends after the plan's terminal event (`masterplan.completed|failed|cancelled`).
   * Across reconnects the client watches again from the last `seq` it delivered + 1: the consumer
   * sees every event once, in order, with no gap. Breaking out of the loop stops the watch.
   *
   * Each `for await` is a watch of its own. Events are buffered in memory, without bound, until
   * the loop reads them: the client keeps reading its socket so that a slow loop slows neither
   * the other watches nor the replies (nor has the host close the connection as a slow
   * consumer); a loop that cannot keep up should stop (`break`) and watch again later from its
   * last `seq` + 1, which the host replays from its journal.
   *
   * A watch that cannot go on (the host refused it: `not_found`, `forbidden`; the client was
   * closed for good) throws a `DevMatrixError` from the loop; `close()` ends it quietly.
   */
  watch(masterplanId: string, options?: WatchOptions): AsyncIterable<Event>
  /**
   * Closes the connection for good: commands still waiting reject (`closed`), watches end.
   * Resolves once the socket has closed.
   */
  close(): Promise<void>
}

/**
 * Connects to a DevMatrix host: the client opens its WebSocket at once, authenticates with a
 * `hello` (browsers cannot send an `Authorization` header), and reconnects with exponential
 * backoff and jitter whenever the connection drops, except when the host refuses the token (then
 * everything rejects with `unauthenticated`). Throws a `DevMatrixError` (`invalid`) if an option
 * is invalid, naming it.
 *
 * In browsers and Node 22 it uses the global `WebSocket`; in Node 20, the `ws` package.
 *
 * @example
 * import { createClient, isDevMatrixError } from "@devmatrix/sdk"
 * import { isTerminalEvent } from "@devmatrix/core"
 *
 * await using client = createClient({ url: "ws://localhost:7420", token: process.env.DEVMATRIX_TOKEN! })
 * const { masterplanId } = await client.submit({ name: "demo", atoms: [{ id: "a", instruction: "add" }] })
 * for await (const event of client.watch(masterplanId)) {
 *   if (event.type === "atom.completed") console.log(`${event.atomId}: $${event.costUsd}`)
 *   if (isTerminalEvent(event)) console.log(event.summary.outcome)
 * }
 * try {
 *   await client.approve(masterplanId, "a")
 * } catch (error) {
 *   if (isDevMatrixError(error) && error.code === "conflict") console.log("not waiting for review")
 * }
 */
export const createClient = (options: ClientOptions): DevMatrixClient => {
  const session = new Session(clientSettingsOf(options))
  const send = <TType extends CommandType>(type: TType, fields: Readonly<Record<string, unknown>>) =>
    session.request(type, fields) as Promise<CommandResult<TType>>
  const close = () => session.close()
  return {
    get state() {
      return session.state
    },
    ready: () => session.ready(),
    submit: (plan, submitOptions = {}) => send("submit", { plan, ...submitOptions }),
    get: (masterplanId) => send("get", { masterplanId }),
    list: () => send("list", {}),
    cancel: (masterplanId, cancelOptions = {}) => send("cancel", { masterplanId, ...cancelOptions }),
    pause: (masterplanId, pauseOptions = {}) => send("pause", { masterplanId, ...pauseOptions }),
    resume: (masterplanId) => send("resume", { masterplanId }),
    raiseBudget: (masterplanId, hardUsd) => send("raiseBudget", { masterplanId, hardUsd }),
    reviewList: (masterplanId) => send("reviewList", { masterplanId }),
    approve: (masterplanId, atomId) => send("approve", { masterplanId, atomId }),
    edit: (masterplanId, atomId, code) => send("edit", { masterplanId, atomId, code }),
    reject: (masterplanId, atomId, reason) => send("reject", { masterplanId, atomId, reason }),
    watch: (masterplanId, watchOptions = {}) => ({
      [Symbol.asyncIterator]: () => session.watch(masterplanId, watchOptions.fromSeq)
    }),
    close,
    [Symbol.asyncDispose]: close
  }
}
