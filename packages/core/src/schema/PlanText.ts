import { Schema } from "effect"
import { maxIdLength, maxNameLength, maxPathLength, maxTextLength } from "./inputLimits.js"

// With the `u` flag a lone surrogate is a code point of its own, of category Cs; a pair is one
// astral code point. PostgreSQL and SQLite store UTF-8, which has no lone surrogates: they come
// back as U+FFFD, so an id holding one would no longer match itself after a restart.
const loneSurrogate = /\p{Cs}/u
const controlCharacter = /\p{Cc}/u
const nul = /\0/

const codePoint = (char: string): string =>
  `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`

/** What a kind of text allows. */
interface TextRules {
  readonly maxLength: number
  /** Control characters it refuses. */
  readonly controls: RegExp
  /** Not empty, nor only whitespace. */
  readonly nonEmpty: boolean
  /** No whitespace at either end (an id `"a "` would look like `"a"`). */
  readonly trimmed: boolean
}

const idRules: TextRules = {
  maxLength: maxIdLength,
  controls: controlCharacter,
  nonEmpty: true,
  trimmed: true
}

/** The first problem of a string against the rules of a kind of text, or undefined. */
const textProblem = (text: string, rules: TextRules): string | undefined => {
  if (text.length > rules.maxLength)
    return `must be at most ${rules.maxLength.toLocaleString("en-US")} characters long, got ${text.length.toLocaleString("en-US")}`
  if (rules.nonEmpty && text.trim() === "") return "must not be empty"
  const lone = loneSurrogate.exec(text)
  if (lone !== null)
    return `is not well-formed Unicode: an unpaired surrogate (${codePoint(lone[0])}) at position ${lone.index}`
  const control = rules.controls.exec(text)
  if (control !== null)
    return `must not contain a control character: ${codePoint(control[0])} at position ${control.index}`
  if (rules.trimmed && text.trim() !== text) return "must not start or end with whitespace"
  return undefined
}

const text = (identifier: string, rules: TextRules) =>
  Schema.String.pipe(
    Schema.filter((s) => textProblem(s, rules), { identifier, jsonSchema: { maxLength: rules.maxLength } })
  )

/**
 * An id (of an atom, requirement, task, milestone, phase, or masterplan): 1 to 256 characters of
 * well-formed Unicode, no control characters (U+0000 to U+001F, U+007F to U+009F), no leading or
 * trailing whitespace. Anything else (spaces inside, punctuation, any script, emoji) is allowed
 * and stored exactly as given.
 */
export const Id = text("Id", idRules)

/** A plan's name, or a title: as an id (it is printed on one line), up to `maxNameLength`. */
export const Name = text("Name", { ...idRules, maxLength: maxNameLength })

/** A path an atom writes to: as an id, up to `maxPathLength`. */
export const FilePath = text("FilePath", { ...idRules, maxLength: maxPathLength })

const freeText: TextRules = { maxLength: maxTextLength, controls: nul, nonEmpty: false, trimmed: false }

/**
 * Free text (a description, a scripted output): well-formed Unicode without NUL (which
 * PostgreSQL cannot store), up to `maxTextLength`. Line breaks and tabs are welcome.
 */
export const FreeText = text("FreeText", freeText)

/** Free text that says something (an instruction, a requirement): not empty nor only whitespace. */
export const NonEmptyFreeText = text("NonEmptyFreeText", { ...freeText, nonEmpty: true })

/** The problem with a string as `FreeText` (a string of an atom's `input`), or undefined if it is one. */
export const freeTextProblem = (text: string): string | undefined => textProblem(text, freeText)

/** The problem with a string as an `Id` (the `--id` of a masterplan), or undefined if it is one. */
export const idProblem = (id: string): string | undefined => textProblem(id, idRules)
