import { Either } from "effect"
import { utf8ByteLength } from "../cost/estimateInputTokens.js"
import { maxPathLength } from "../schema/inputLimits.js"

/**
 * Which rule a refused path broke, a closed list:
 * - `empty`: the path is the empty string.
 * - `tooLong`: longer than `maxPathLength` characters, or a segment longer than 255 bytes (what
 *   file systems allow in one name).
 * - `nul`: it holds a NUL byte, which the OS would cut the path at.
 * - `control`: it holds another control character (newline, tab, escape...): never part of a file
 *   name a program meant to write, and a way to forge lines in logs and commit messages.
 * - `encoding`: it holds half of a UTF-16 surrogate pair, which has no UTF-8 form: the OS would get
 *   U+FFFD instead, so two different paths would name one file.
 * - `backslash`: it holds `\`, a separator on Windows (`a\..\..\x`) and an ordinary character on
 *   POSIX, so the same path would name different files.
 * - `drive`: it starts with a drive letter (`C:\x`, `C:x`), absolute or drive-relative on Windows.
 * - `absolute`: it starts with `/`.
 * - `escapes`: a `..` segment leaves the root (`../x`, `a/../../x`).
 * - `gitDir`: a segment is `.git` (in any case): the repository's own files (hooks, config) are
 *   not output, and a hook written there would run on the next commit.
 * - `notAFile`: it ends in `/`, `.` or `..`, so it names a directory.
 */
export type PathRule =
  | "empty"
  | "tooLong"
  | "nul"
  | "control"
  | "encoding"
  | "backslash"
  | "drive"
  | "absolute"
  | "escapes"
  | "gitDir"
  | "notAFile"

/** Why a path was refused: the rule it broke, and a sentence naming the path and the rule. */
export interface PathRefusal {
  readonly rule: PathRule
  readonly message: string
}

/** Longest name of one file or directory, in UTF-8 bytes (NAME_MAX on Linux and macOS). */
export const maxSegmentBytes = 255

// C0 controls and DEL, NUL excepted (it has its own rule).
const control = /[\u0001-\u001f\u007f]/
const unpairedSurrogate = /\p{Cs}/u
const driveLetter = /^[A-Za-z]:/

/**
 * Checks, by its text alone, that `path` names a file inside an output root, and returns it
 * normalised: `/`-separated, without empty or `.` segments, each `..` applied to the segment
 * before it (`./src//a/../b.ts` is `src/b.ts`). Any path it accepts resolves inside the root,
 * on POSIX and on Windows alike; the caller joins the normalised path, never the one given, so no
 * `..` ever reaches the file system. What the text cannot tell (a symbolic link on the way out of
 * the root) the caller checks on the file system.
 *
 * @example
 * checkRelativePath("src/./a/../index.ts") // Either.right("src/index.ts")
 * checkRelativePath("a/../../x") // Either.left({ rule: "escapes", message: '"a/../../x": a ".." segment leaves the root' })
 */
export const checkRelativePath = (path: string): Either.Either<string, PathRefusal> => {
  const refuse = (rule: PathRule, why: string) =>
    Either.left({ rule, message: `${JSON.stringify(path)}: ${why}` })
  if (path === "") return refuse("empty", "the path is empty")
  if (path.length > maxPathLength) return refuse("tooLong", `longer than ${maxPathLength} characters`)
  if (path.includes("\u0000")) return refuse("nul", "the path holds a NUL byte")
  if (control.test(path)) return refuse("control", "the path holds a control character")
  if (unpairedSurrogate.test(path)) return refuse("encoding", "the path holds an unpaired UTF-16 surrogate")
  if (path.includes("\\")) return refuse("backslash", "the path holds a backslash; separate segments with /")
  if (driveLetter.test(path)) return refuse("drive", "the path starts with a drive letter")
  if (path.startsWith("/")) return refuse("absolute", "the path is absolute; give it relative to the root")
  const given = path.split("/")
  const last = given[given.length - 1]
  if (last === "" || last === "." || last === "..")
    return refuse("notAFile", "the path ends in '/', '.' or '..', so it names a directory, not a file")
  const kept: Array<string> = []
  for (const segment of given) {
    if (segment === "" || segment === ".") continue
    if (segment === "..") {
      if (kept.pop() === undefined) return refuse("escapes", 'a ".." segment leaves the root')
      continue
    }
    if (segment.toLowerCase() === ".git")
      return refuse("gitDir", "a segment is .git: the repository's own files are not output")
    if (utf8ByteLength(segment) > maxSegmentBytes)
      return refuse("tooLong", `a segment is longer than ${maxSegmentBytes} bytes`)
    kept.push(segment)
  }
  return Either.right(kept.join("/"))
}
