import {
  validateAtom,
  type AtomValidation,
  type AtomValidationRequest,
  type ParseSource
} from "@devmatrix/core"
import { Context, Data, Effect, Layer } from "effect"
import { grammarOf, makeParsers } from "./internal/treeSitter.js"

/** An atom to validate: its code, its contract and its module (see `AtomValidationRequest`). */
export type ValidateAtomRequest = Omit<AtomValidationRequest, "language"> & {
  /** `typescript`, `javascript` or `python`; anything else is refused. */
  readonly language: string
  /** The file the atom belongs to, if known: a `.tsx` file is parsed with the TSX grammar. */
  readonly file?: string | undefined
}

/**
 * An atom the validator cannot judge: its language has no grammar here. Code that does not parse
 * is not an error of the validator but its L1 verdict.
 */
export class ValidateError extends Data.TaggedError("ValidateError")<{
  readonly reason: "UnsupportedLanguage"
  readonly language: string
}> {
  override get message(): string {
    return `${this.reason}: no grammar for "${this.language}" (typescript, javascript and python have one)`
  }
}

/**
 * Validates generated atoms with tree-sitter, level by level: L1 syntax (no `ERROR` or `MISSING`
 * node), L2 the atom's contract (line budget, the symbols it must define, no placeholders), L3 the
 * module (every used symbol resolves; the assembled file parses). The pipeline will run it on each
 * generated or reviewer-edited atom and send a failed level's problems back to the model.
 * L4 (acceptance tests and Gate S) belongs to the Acceptance service, after L3.
 */
export interface ValidatorService {
  /**
   * The first level the atom fails, with its problems, or `L3` with no problems when it passes.
   *
   * @example
   * const validation = yield* validator.validateAtom({
   *   language: "typescript",
   *   code: "export const double = (n: number): number => n * 2",
   *   defines: ["double"],
   *   maxLines: 10,
   *   dependencies: []
   * })
   * // { level: "L3", problems: [] }
   */
  readonly validateAtom: (request: ValidateAtomRequest) => Effect.Effect<AtomValidation, ValidateError>
}

export class Validator extends Context.Tag("@devmatrix/runtime/Validator")<Validator, ValidatorService>() {}

/** A validator with its own parsers (one per grammar, made when first needed). */
export const makeValidator = (): ValidatorService => {
  const parseWith = makeParsers()
  const parse: ParseSource = (language, text) => parseWith(grammarOf(language), text)
  const parseTsx: ParseSource = (language, text) => parseWith(grammarOf(language, true), text)
  return {
    validateAtom: (request) =>
      Effect.suspend(() => {
        const { language, file, ...atom } = request
        if (language !== "typescript" && language !== "javascript" && language !== "python")
          return Effect.fail(new ValidateError({ reason: "UnsupportedLanguage", language }))
        return Effect.succeed(
          validateAtom({ ...atom, language }, file?.endsWith(".tsx") === true ? parseTsx : parse)
        )
      })
  }
}

/** The validator: pure CPU, nothing to configure or release. */
export const ValidatorLive: Layer.Layer<Validator> = Layer.sync(Validator, makeValidator)
