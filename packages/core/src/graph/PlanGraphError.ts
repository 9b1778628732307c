import { Data } from "effect"

/** A plan whose dependency graph cannot run: the message names the atoms at fault. */
export class PlanGraphError extends Data.TaggedError("PlanGraphError")<{
  readonly reason: "DuplicateAtom" | "UnknownDependency" | "SelfDependency" | "Cycle"
  readonly atomIds: ReadonlyArray<string>
  readonly detail?: string
}> {
  override get message(): string {
    const [first, second] = this.atomIds
    switch (this.reason) {
      case "DuplicateAtom":
        return `duplicate atom id "${first}"`
      case "UnknownDependency":
        return `atom "${first}" depends on unknown atom "${second}"`
      case "SelfDependency":
        return `atom "${first}" depends on itself`
      case "Cycle":
        return `dependency cycle: ${this.atomIds.join(" -> ")} (each depends on the next)`
    }
  }
}
