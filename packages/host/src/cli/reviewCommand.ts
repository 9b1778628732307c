import { Engine, finishedStatuses, MasterplanNotFound, Store } from "@devmatrix/runtime"
import type { ReviewDecision } from "@devmatrix/runtime"
import { Effect, Option } from "effect"
import { readFileSync } from "node:fs"
import { userInfo } from "node:os"
import { parseArgs } from "node:util"
import { invocationOf, resumeCommandLine } from "./commandLine.js"
import { ExitCode, UsageError } from "./exitCodes.js"
import type { Terminal } from "./followPlan.js"
import { masterplanIdArg, pathArg, storeOf } from "./runArgs.js"
import { synopsis } from "./usage.js"
import { hostTargetOf } from "./hostClient.js"
import type { HostTarget } from "./hostClient.js"

/** What a reviewer decides, as the command line says it. */
export type ReviewAction = "approve" | "edit" | "reject"

/** `devmatrix review list` as parsed. */
export interface ReviewListArgs {
  readonly action: "list"
  readonly store: string
  readonly masterplanId?: string
  readonly json: boolean
  /** Through a host (`--host URL --token T`) instead of the store. */
  readonly host?: HostTarget
}

/** `devmatrix review approve | edit | reject` as parsed (an edit's file read already). */
export interface ReviewDecisionArgs {
  readonly action: ReviewAction
  readonly store: string
  /** Absent: the one unfinished plan in which the atom waits for review. */
  readonly masterplanId?: string
  readonly atomId: string
  readonly decision: ReviewDecision
  /** Who decides, for the journal (`atom.reviewed`): `--by NAME`, else the OS user; a host names its token's. */
  readonly by?: string
  readonly invocation: string
  readonly host?: HostTarget
}

export type ReviewArgs = ReviewListArgs | ReviewDecisionArgs

/** An atom waiting for its reviewer, as `review list` shows it. */
export interface ReviewListing {
  readonly masterplanId: string
  readonly atomId: string
  readonly wave: number
  readonly confidence?: number | undefined
  /** The plan's `reviewThreshold`, when known (a host does not say it). */
  readonly reviewThreshold?: number | undefined
  /** Why it waits, in words. */
  readonly why: string
  /** The output under review. */
  readonly code: string
}

const actions: ReadonlyArray<string> = ["list", "approve", "edit", "reject"]
const isAction = (text: string | undefined): text is "list" | ReviewAction =>
  text !== undefined && actions.includes(text)

/** The longest `--by` taken, as the longest id. */
const maxPrincipalLength = 256

const principalArg = (text: string): string => {
  // Printed in the journal and on one line: a name, not a paragraph.
  if (text.trim() === "" || text.length > maxPrincipalLength || /\p{Cc}/u.test(text))
    throw new UsageError(
      `--by must be a name of 1 to ${maxPrincipalLength} characters without control characters, got ${JSON.stringify(text.slice(0, 64))}`
    )
  return text
}

/** Who runs this process, for the journal: the OS user (none known: the journal names no one). */
const osUser = (env: NodeJS.ProcessEnv): string | undefined => {
  try {
    return userInfo().username
  } catch {
    return env["USER"] ?? env["LOGNAME"]
  }
}

/** The code of `--file F`: read whole, and not empty (an empty edit is a slip, not a decision). */
const editFile = (file: string): string => {
  let code: string
  try {
    code = readFileSync(pathArg("--file", file), "utf8")
  } catch (error) {
    if (error instanceof UsageError) throw error
    throw new UsageError(`--file: cannot read ${JSON.stringify(file)}: ${(error as Error).message}`)
  }
  if (code.trim() === "")
    throw new UsageError(`--file ${JSON.stringify(file)} is empty: an edit needs the atom's code`)
  if (code.includes("\0"))
    throw new UsageError(`--file ${JSON.stringify(file)} holds a NUL character: it is not text`)
  return code
}

export const parseReviewArgs = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): ReviewArgs => {
  const [action, ...rest] = argv
  if (!isAction(action))
    throw new UsageError(
      `${action === undefined ? "devmatrix review needs an action" : `unknown review action ${JSON.stringify(action)}`}\nusage: ${synopsis.review}`
    )
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      store: { type: "string" },
      host: { type: "string" },
      token: { type: "string" },
      json: { type: "boolean", default: false },
      by: { type: "string" },
      file: { type: "string" },
      reason: { type: "string" }
    }
  })
  const host = hostTargetOf(rest, env)
  if (host !== undefined && values.store !== undefined)
    throw new UsageError("--store and --host exclude each other: a host reads its own store")
  const store = host === undefined ? storeOf(values.store, env) : ""
  const target = host !== undefined ? { host } : {}
  const misplaced = (flag: string, what: string) => {
    throw new UsageError(`--${flag} is for ${what}\nusage: ${synopsis.review}`)
  }
  if (action === "list") {
    for (const flag of ["by", "file", "reason"] as const)
      if (values[flag] !== undefined)
        misplaced(flag, flag === "by" ? "decisions" : `review ${flag === "file" ? "edit" : "reject"}`)
    if (positionals.length > 1) throw new UsageError(`usage: ${synopsis.review}`)
    return {
      action,
      store,
      json: values.json ?? false,
      ...(positionals[0] !== undefined ? { masterplanId: masterplanIdArg(positionals[0]) } : {}),
      ...target
    }
  }
  if (values.json === true) misplaced("json", "review list")
  if (positionals.length < 1 || positionals.length > 2)
    throw new UsageError(
      `devmatrix review ${action} takes [<masterplanId>] <atomId>\nusage: ${synopsis.review}`
    )
  const atomId = positionals.at(-1)!
  if (atomId.trim() === "") throw new UsageError("the atom id is empty")
  if (action !== "edit" && values.file !== undefined) misplaced("file", "review edit")
  if (action !== "reject" && values.reason !== undefined) misplaced("reason", "review reject")
  let decision: ReviewDecision = "APPROVE"
  if (action === "edit") {
    if (values.file === undefined)
      throw new UsageError("devmatrix review edit needs --file F: the atom's code as the reviewer wants it")
    decision = { edit: editFile(values.file) }
  }
  if (action === "reject") {
    if (values.reason === undefined || values.reason.trim() === "")
      throw new UsageError(
        "devmatrix review reject needs --reason TEXT: why the atom's code is refused (it is journaled)"
      )
    if (values.reason.includes("\0")) throw new UsageError("--reason holds a NUL character")
    decision = { reject: values.reason }
  }
  if (host !== undefined && values.by !== undefined)
    throw new UsageError("--by is for a review in the store: through a host, its token names the reviewer")
  const by = values.by !== undefined ? principalArg(values.by) : host === undefined ? osUser(env) : undefined
  return {
    action,
    store,
    atomId,
    decision,
    invocation: invocationOf(env),
    ...(positionals.length === 2 ? { masterplanId: masterplanIdArg(positionals[0]!) } : {}),
    ...(by !== undefined ? { by } : {}),
    ...target
  }
}

/** Why an atom waits for review, in words. */
export const whyInReview = (confidence: number | undefined, reviewThreshold: number | undefined): string =>
  confidence === undefined
    ? "its output needs a reviewer"
    : `confidence ${confidence.toFixed(2)} is below the plan's review threshold${reviewThreshold !== undefined ? ` ${reviewThreshold}` : ""}`

/** `review list`'s output: JSON (an array) or a table, and what to do next. */
export const printListing = (
  listing: ReadonlyArray<ReviewListing>,
  json: boolean,
  where: string,
  terminal: Terminal
) => {
  if (json) return void terminal.stdout.write(`${JSON.stringify(listing)}\n`)
  if (listing.length === 0) return void terminal.stdout.write(`no atom waits for review in ${where}\n`)
  const rows = [
    ["masterplan", "atom", "wave", "confidence", "why"],
    ...listing.map((item) => [
      item.masterplanId,
      item.atomId,
      String(item.wave),
      item.confidence === undefined ? "-" : item.confidence.toFixed(2),
      item.why
    ])
  ]
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  for (const row of rows)
    terminal.stdout.write(
      `${row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join("  ")}\n`
    )
}

const decided: Record<ReviewAction, string> = { approve: "approved", edit: "edited", reject: "rejected" }

/** One line that says what was decided and by whom. */
export const decisionLine = (
  args: ReviewDecisionArgs,
  masterplanId: string,
  by: string | undefined
): string =>
  `atom ${args.atomId} of masterplan ${masterplanId}: ${decided[args.action]}${by !== undefined ? ` by ${by}` : ""}`

/** The atoms waiting for a reviewer in the store (one plan, or every unfinished one). */
const listStored = (masterplanId: string | undefined) =>
  Effect.gen(function* () {
    const store = yield* Store
    const records =
      masterplanId !== undefined
        ? [
            yield* Effect.flatMap(store.getMasterplan(masterplanId), (found) =>
              Option.isSome(found)
                ? Effect.succeed(found.value)
                : Effect.fail(new MasterplanNotFound({ masterplanId }))
            )
          ]
        : (yield* store.listMasterplans()).filter((record) => !finishedStatuses.has(record.status))
    const listing: Array<ReviewListing> = []
    let decidedAwaitingResume = 0
    for (const record of records)
      for (const atom of yield* store.listAtoms(record.id)) {
        if (atom.status !== "review") continue
        // Decided while no process ran the plan: the resume applies it, nobody needs to look again.
        if (atom.reviewed !== undefined) {
          decidedAwaitingResume++
          continue
        }
        listing.push({
          masterplanId: record.id,
          atomId: atom.atomId,
          wave: atom.wave,
          confidence: atom.confidence,
          reviewThreshold: record.options.reviewThreshold,
          why: whyInReview(atom.confidence, record.options.reviewThreshold),
          code: atom.code ?? ""
        })
      }
    return { listing, decidedAwaitingResume, storeName: store.name }
  })

/** The one unfinished plan of the store in which `atomId` waits for review, or a `UsageError` saying why not. */
const planWaitingOn = (atomId: string) =>
  Effect.flatMap(listStored(undefined), ({ listing, storeName }) => {
    const plans = listing.filter((item) => item.atomId === atomId).map((item) => item.masterplanId)
    if (plans.length === 1) return Effect.succeed(plans[0]!)
    return Effect.fail(
      new UsageError(
        plans.length === 0
          ? `no unfinished masterplan in ${storeName} has an atom "${atomId}" waiting for review (devmatrix review list shows those that do)`
          : `atom "${atomId}" waits for review in ${plans.length} masterplans (${plans.join(", ")}): name one, devmatrix review <action> <masterplanId> ${atomId}`
      )
    )
  })

/**
 * `devmatrix review`: lists the atoms waiting for a reviewer, or journals a decision on one in the
 * store (the plan is stopped: `devmatrix run` ends when nothing but reviews is left); `devmatrix
 * resume` then applies it. Through a host (`--host`), the host's review commands.
 */
export const reviewCommand = (args: ReviewArgs, terminal: Terminal) =>
  Effect.gen(function* () {
    if (args.action === "list") {
      const { listing, decidedAwaitingResume, storeName } = yield* listStored(args.masterplanId)
      printListing(listing, args.json, args.masterplanId ?? storeName, terminal)
      if (!args.json && decidedAwaitingResume > 0)
        terminal.stderr.write(
          `${decidedAwaitingResume} decision${decidedAwaitingResume === 1 ? "" : "s"} made already wait${decidedAwaitingResume === 1 ? "s" : ""} for devmatrix resume to apply ${decidedAwaitingResume === 1 ? "it" : "them"}\n`
        )
      return ExitCode.completed
    }
    const engine = yield* Engine
    const masterplanId = args.masterplanId ?? (yield* planWaitingOn(args.atomId))
    yield* engine
      .review(
        masterplanId,
        args.atomId,
        args.decision,
        args.by !== undefined ? { principal: args.by } : undefined
      )
      .pipe(
        Effect.catchTag("MasterplanNotResumable", (error) =>
          Effect.fail(
            new UsageError(
              error.reason.startsWith("another process")
                ? `masterplan ${masterplanId}: ${error.reason}; decide once it stops (a run stops when nothing but reviews is left), or through the host that runs it (--host URL --token T)`
                : `masterplan ${masterplanId}: ${error.reason}: nothing waits for a review there`
            )
          )
        )
      )
    terminal.stderr.write(
      `${decisionLine(args, masterplanId, args.by)} (journaled); continue the plan with\n  ${resumeCommandLine(args.invocation, args.store, masterplanId)}\n`
    )
    return ExitCode.completed
  })
