import { finishedStatuses } from "@devmatrix/runtime"
import type { DevMatrixClient } from "@devmatrix/sdk"
import { Effect } from "effect"
import { ExitCode, UsageError } from "./exitCodes.js"
import type { Terminal } from "./followPlan.js"
import { onHost, sdkCall } from "./hostClient.js"
import type { HostTarget } from "./hostClient.js"
import { decisionLine, printListing, whyInReview } from "./reviewCommand.js"
import type { ReviewArgs, ReviewDecisionArgs, ReviewListing } from "./reviewCommand.js"

/** What waits for review on the host: one plan's atoms, or those of every unfinished plan the token sees. */
const listOnHost = async (client: DevMatrixClient, masterplanId: string | undefined) => {
  const ids =
    masterplanId !== undefined
      ? [masterplanId]
      : (await client.list()).masterplans
          .filter((plan) => !finishedStatuses.has(plan.status))
          .map((plan) => plan.masterplanId)
  const listing: Array<ReviewListing> = []
  for (const id of ids)
    for (const atom of (await client.reviewList(id)).atoms)
      listing.push({
        masterplanId: id,
        atomId: atom.atomId,
        wave: atom.wave,
        confidence: atom.confidence,
        why: whyInReview(atom.confidence, undefined),
        code: atom.code
      })
  return listing
}

const decideOnHost = async (client: DevMatrixClient, args: ReviewDecisionArgs, host: HostTarget) => {
  let masterplanId = args.masterplanId
  if (masterplanId === undefined) {
    const plans = (await listOnHost(client, undefined))
      .filter((item) => item.atomId === args.atomId)
      .map((item) => item.masterplanId)
    if (plans.length !== 1)
      throw new UsageError(
        plans.length === 0
          ? `no unfinished masterplan on ${host.url} has an atom "${args.atomId}" waiting for review (devmatrix review list shows those that do)`
          : `atom "${args.atomId}" waits for review in ${plans.length} masterplans (${plans.join(", ")}): name one, devmatrix review <action> <masterplanId> ${args.atomId}`
      )
    masterplanId = plans[0]!
  }
  const { decision } = args
  if (decision === "APPROVE") await client.approve(masterplanId, args.atomId)
  else if ("edit" in decision) await client.edit(masterplanId, args.atomId, decision.edit)
  else await client.reject(masterplanId, args.atomId, decision.reject)
  return masterplanId
}

/**
 * `devmatrix review` through a host's API (the SDK): the host runs its plans, so a decision takes
 * effect there at once, journaled with the token's principal. Same output as in the store, and
 * the exit codes of every command through a host (`onHost`).
 */
export const reviewThroughHost = (args: ReviewArgs, host: HostTarget, terminal: Terminal) =>
  onHost(host, "review", terminal, (client) =>
    Effect.gen(function* () {
      if (args.action === "list") {
        const listing = yield* sdkCall(() => listOnHost(client, args.masterplanId))
        printListing(listing, args.json, args.masterplanId ?? host.url, terminal)
        return ExitCode.completed
      }
      const masterplanId = yield* sdkCall(() => decideOnHost(client, args, host))
      terminal.stderr.write(`${decisionLine(args, masterplanId, undefined)} on ${host.url}\n`)
      return ExitCode.completed
    })
  )
