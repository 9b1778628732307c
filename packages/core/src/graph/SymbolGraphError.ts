import { Data } from "effect"

/**
 * A project whose symbol graph cannot be ordered: a cycle of load-time uses (each atom's code
 * needs the next one's value while the module loads; see `buildSymbolGraph`), or two files given
 * under one path. `atomIds` are `<file>#<name>`; for a cycle, the first is repeated at the end.
 */
export class SymbolGraphError extends Data.TaggedError("SymbolGraphError")<{
  readonly reason: "LoadTimeCycle" | "DuplicateFile"
  readonly atomIds: ReadonlyArray<string>
}> {
  override get message(): string {
    switch (this.reason) {
      case "LoadTimeCycle":
        return `load-time dependency cycle: ${this.atomIds.map((id) => id.replace("#", ":")).join(" -> ")} (each uses the next while the module loads)`
      case "DuplicateFile":
        return `file "${this.atomIds[0] ?? ""}" is given twice`
    }
  }
}
