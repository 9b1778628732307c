import { Schema } from "effect"
import { Language, listOf } from "../schema/Atom.js"
import { FreeText, Id, NonEmptyFreeText } from "../schema/PlanText.js"

/**
 * What an atom is, as the atomizer names it: `function`, `method`, `class`, `type`, `imports`,
 * `constant`, `statement`... A free id rather than a closed list, so that the atomizer can name a
 * new kind without a change here; retrieval only compares kinds for equality.
 */
export const ExampleKind = Id.annotations({ identifier: "ExampleKind" })
export type ExampleKind = typeof ExampleKind.Type

/**
 * An accepted atom kept to be shown to the model as an example when a similar atom is generated
 * (retrieval-augmented generation): its code, what language and kind of code it is, the symbols it
 * defines and uses, and the instruction it was written for, when there was one.
 */
export const Example = Schema.Struct({
  /** Unique in a store: adding an example with an id already there replaces it. */
  id: Id,
  code: NonEmptyFreeText,
  language: Language,
  kind: ExampleKind,
  /** Symbols the code defines (`parseUser`, `User`). */
  defines: listOf(Id),
  /** Symbols the code uses that something else defines. */
  uses: listOf(Id),
  /** What the atom was asked to do. */
  instruction: Schema.optional(FreeText)
})
export type Example = typeof Example.Type

/**
 * The text an example is embedded from: its instruction, the names it defines and its code, so
 * that a query made of an atom's instruction and expected symbols meets the examples that did the
 * same thing.
 */
export const exampleEmbeddingText = (example: Example): string =>
  [example.instruction ?? "", example.defines.join(" "), example.code]
    .filter((part) => part !== "")
    .join("\n")
