import { checkRelativePath, decideWrite, defaultGitAuthor, parseGitAuthor } from "@devmatrix/core"
import type { GitAuthor, PathRule } from "@devmatrix/core"
import { Context, Data, Effect, Either, Layer, Option } from "effect"
import { createHash } from "node:crypto"

/**
 * Why a workspace operation failed, a closed list:
 * - `PathEscape`: the path does not name a file inside the root: refused by its text (`..`, an
 *   absolute path, a drive letter, a backslash, NUL: `rule` says which) or by the file system (a
 *   symbolic link on the way, or at the file itself).
 * - `Exists`: a file with other content is there, and the write did not say `overwrite`.
 * - `Io`: the file system refused (no space, no permission, a file where a directory must go).
 * - `Git`: a git command failed, or git is set up wrong (a bad author, an empty message).
 */
export type WorkspaceErrorReason = "PathEscape" | "Exists" | "Io" | "Git"

/** A workspace operation that failed; the message names the root, the path and the rule broken. */
export class WorkspaceError extends Data.TaggedError("WorkspaceError")<{
  readonly reason: WorkspaceErrorReason
  /** The workspace's root: its directory, or `memory:`. */
  readonly root: string
  /** The path as the caller gave it; absent for a commit. */
  readonly path?: string | undefined
  /** The textual rule a `PathEscape` broke; absent when the file system refused it (a link). */
  readonly rule?: PathRule | undefined
  /** What was wrong, starting with the path when there is one. */
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `workspace ${this.root}: ${this.reason}: ${this.detail}`
  }
}

/** One file for `writeMany`: where (relative to the root) and what. */
export interface WorkspaceFile {
  /** Relative to the root, `/`-separated; see `WorkspaceService.write` for the rules. */
  readonly path: string
  /** The whole content, written as UTF-8. */
  readonly text: string
}

/** How a write treats a file that is already there. */
export interface WriteOptions {
  /**
   * Replace a file whose content differs. Without it such a write fails with `Exists`.
   * @default false
   */
  readonly overwrite?: boolean | undefined
}

/**
 * What a write did: `created` a new file, found the same content there (`unchanged`: nothing was
 * written), or `replaced` other content (only with `overwrite`).
 */
export type WriteOutcome = "created" | "unchanged" | "replaced"

/** A file a write reached, under its normalised path (`./src//a.ts` is `src/a.ts`). */
export interface WrittenFile {
  readonly path: string
  readonly outcome: WriteOutcome
}

/** What a commit is for. */
export interface CommitOptions {
  /**
   * The wave whose end this commit marks. Such a commit is made only when the workspace's
   * `git.commitPerWave` is on; otherwise it is skipped, and the files go into the next commit made
   * without `wave` (the run's last).
   */
  readonly wave?: number | undefined
}

/** Git for a workspace: its commits are made in the root, a repository of its own. */
export interface WorkspaceGitOptions {
  /** Commit at the end of each wave (`commit(message, { wave })`), not only at the end. */
  readonly commitPerWave: boolean
  /**
   * Author and committer of the commits, `Name <email>`.
   * @default "DevMatrix <devmatrix@localhost>"
   */
  readonly author?: string | undefined
}

/**
 * Where the generated project is written. Every path is relative to the root and checked by its
 * text first (`checkRelativePath`: no `..` leaving the root, no absolute path, no drive letter,
 * backslash, NUL or `.git` segment) and then on the file system (no symbolic link on the way); an
 * existing file is never silently replaced, and a write repeated after a resume is a no-op.
 */
export interface WorkspaceService {
  /** The root, for reports and errors: its real path, or `memory:`. */
  readonly root: string
  /**
   * Writes `text` at `path`, creating the directories on the way. A file that is there with the
   * same content is left as it is (`unchanged`); with other content the write fails with `Exists`
   * unless `overwrite` is set. The file appears whole or not at all: its content goes to a
   * temporary file in the same directory first.
   *
   * @example
   * const written = yield* workspace.write("src/index.ts", "export {}\n") // { path: "src/index.ts", outcome: "created" }
   */
  readonly write: (
    path: string,
    text: string,
    options?: WriteOptions
  ) => Effect.Effect<WrittenFile, WorkspaceError>
  /**
   * Writes several files, all checked before any is written: if one path is refused, or one file
   * is there with other content (without `overwrite`), nothing is written. A path given twice must
   * carry the same text. The outcomes follow the order of `files`. Only a failure of the file system
   * itself midway (no space left) can leave some written: each of those whole.
   */
  readonly writeMany: (
    files: ReadonlyArray<WorkspaceFile>,
    options?: WriteOptions
  ) => Effect.Effect<ReadonlyArray<WrittenFile>, WorkspaceError>
  /**
   * The content of the file at `path` (same path rules as `write`), or none if there is no file;
   * `Io` if the path is a directory, or a file is where a directory would be on the way.
   */
  readonly read: (path: string) => Effect.Effect<Option.Option<string>, WorkspaceError>
  /** The normalised paths this workspace has written (any outcome), sorted. */
  readonly list: () => Effect.Effect<ReadonlyArray<string>>
  /**
   * Commits the files this workspace has written that changed since the last commit, with the
   * layer's author, and returns the commit's hash; none when there is nothing to commit, when git
   * is off, or when `wave` is given and commits are not made per wave. A live workspace runs `git
   * init` in the root first if the root is not the top of a repository, and runs no hooks.
   */
  readonly commit: (
    message: string,
    options?: CommitOptions
  ) => Effect.Effect<Option.Option<string>, WorkspaceError>
}

/** The workspace a pipeline writes its output through. */
export class Workspace extends Context.Tag("@devmatrix/runtime/Workspace")<Workspace, WorkspaceService>() {}

/** @internal The checked git settings of a workspace, shared by its implementations. */
export interface GitSettings {
  readonly commitPerWave: boolean
  readonly author: GitAuthor
}

/** @internal Parses the layer's git options, refusing a bad author when the workspace opens. */
export const gitSettingsOf = (
  root: string,
  git: WorkspaceGitOptions | undefined
): Effect.Effect<GitSettings | undefined, WorkspaceError> =>
  git === undefined
    ? Effect.succeed(undefined)
    : Either.match(parseGitAuthor(git.author ?? defaultGitAuthor), {
        onLeft: (problem) =>
          Effect.fail(new WorkspaceError({ reason: "Git", root, detail: `the author ${problem}` })),
        onRight: (author) => Effect.succeed({ commitPerWave: git.commitPerWave, author })
      })

/** @internal Whether a commit asked for is made, before anything is looked at. */
export const commitWanted = (git: GitSettings | undefined, options: CommitOptions | undefined): boolean =>
  git !== undefined && (options?.wave === undefined || git.commitPerWave)

/** @internal The path normalised, or the `PathEscape` naming the rule it broke. */
export const checkedPath = (root: string, path: string): Either.Either<string, WorkspaceError> =>
  Either.mapLeft(
    checkRelativePath(path),
    (refusal) =>
      new WorkspaceError({ reason: "PathEscape", root, path, rule: refusal.rule, detail: refusal.message })
  )

/**
 * @internal
 * The files of a `writeMany`, each path checked and normalised, in order; a path given twice with
 * other text is refused (it cannot be both), and so is a path that another one needs as a directory.
 */
export const checkedFiles = (
  root: string,
  files: ReadonlyArray<WorkspaceFile>
): Either.Either<ReadonlyArray<WorkspaceFile & { readonly given: string }>, WorkspaceError> => {
  const seen = new Map<string, string>()
  const checked: Array<WorkspaceFile & { readonly given: string }> = []
  for (const file of files) {
    const path = checkedPath(root, file.path)
    if (Either.isLeft(path)) return Either.left(path.left)
    const earlier = seen.get(path.right)
    if (earlier !== undefined && earlier !== file.text)
      return Either.left(
        new WorkspaceError({
          reason: "Exists",
          root,
          path: file.path,
          detail: `${JSON.stringify(file.path)}: given twice in one writeMany, with different text`
        })
      )
    seen.set(path.right, file.text)
    checked.push({ path: path.right, text: file.text, given: file.path })
  }
  for (const file of checked) {
    const segments = file.path.split("/")
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join("/")
      if (seen.has(dir))
        return Either.left(
          new WorkspaceError({
            reason: "Io",
            root,
            path: file.given,
            detail: `${JSON.stringify(file.given)}: ${JSON.stringify(dir)} is a file in the same writeMany, not a directory`
          })
        )
    }
  }
  return Either.right(checked)
}

/** @internal The `Exists` refusal of a write that would replace other content. */
export const existsError = (root: string, path: string): WorkspaceError =>
  new WorkspaceError({
    reason: "Exists",
    root,
    path,
    detail: `${JSON.stringify(path)}: a file with other content is there; write with { overwrite: true } to replace it`
  })

/** What `WorkspaceMemory` starts with. */
export interface WorkspaceMemoryOptions {
  /** Files already in the root (not written by the workspace, so not in `list()`), by path. */
  readonly files?: Readonly<Record<string, string>> | undefined
  readonly git?: WorkspaceGitOptions | undefined
}

const memoryRoot = "memory:"

/**
 * A workspace in memory, under the same rules as the live one (paths, `Exists`, `writeMany` all or
 * nothing, a file and a directory never at one path; commits when something changed), for tests of
 * callers. It has no links, so it has no link escapes; its commit hashes are the sha1 of what the
 * commit holds.
 */
export const makeWorkspaceMemory = (
  options: WorkspaceMemoryOptions = {}
): Effect.Effect<WorkspaceService, WorkspaceError> =>
  Effect.gen(function* () {
    const git = yield* gitSettingsOf(memoryRoot, options.git)
    const files = new Map<string, string>()
    for (const [given, text] of Object.entries(options.files ?? {}))
      files.set(yield* checkedPath(memoryRoot, given), text)
    const written = new Set<string>()
    let committed = new Map<string, string>()
    let head = ""

    /** The `Io` refusal when a file is where a directory must go, or a directory where the file goes. */
    const clash = (path: string, given: string): WorkspaceError | undefined => {
      const segments = path.split("/")
      for (let i = 1; i < segments.length; i++) {
        const dir = segments.slice(0, i).join("/")
        if (files.has(dir))
          return new WorkspaceError({
            reason: "Io",
            root: memoryRoot,
            path: given,
            detail: `${JSON.stringify(given)}: ${JSON.stringify(dir)} is a file, not a directory`
          })
      }
      const prefix = `${path}/`
      for (const other of files.keys())
        if (other.startsWith(prefix))
          return new WorkspaceError({
            reason: "Io",
            root: memoryRoot,
            path: given,
            detail: `${JSON.stringify(given)}: is a directory, not a file`
          })
      return undefined
    }

    const decide = (path: string, given: string, text: string, overwrite: boolean) => {
      const problem = clash(path, given)
      if (problem !== undefined) return Either.left(problem)
      const decision = decideWrite(files.get(path), text, overwrite)
      return decision === "refuse" ? Either.left(existsError(memoryRoot, given)) : Either.right(decision)
    }

    /** Writes one checked file, deciding again on what is there now (an earlier file of a batch may be). */
    const apply = (path: string, given: string, text: string, overwrite: boolean) =>
      Either.map(decide(path, given, text, overwrite), (decision): WrittenFile => {
        files.set(path, text)
        written.add(path)
        return {
          path,
          outcome: decision === "create" ? "created" : decision === "replace" ? "replaced" : "unchanged"
        }
      })

    const service: WorkspaceService = {
      root: memoryRoot,
      write: (given, text, writeOptions) =>
        Effect.suspend(() =>
          Either.flatMap(checkedPath(memoryRoot, given), (path) =>
            apply(path, given, text, writeOptions?.overwrite === true)
          )
        ),
      writeMany: (many, writeOptions) =>
        Effect.suspend(() => {
          const overwrite = writeOptions?.overwrite === true
          return Either.flatMap(checkedFiles(memoryRoot, many), (checked) => {
            for (const file of checked) {
              const planned = decide(file.path, file.given, file.text, overwrite)
              if (Either.isLeft(planned)) return Either.left(planned.left)
            }
            const outcomes: Array<WrittenFile> = []
            for (const file of checked) {
              const outcome = apply(file.path, file.given, file.text, overwrite)
              if (Either.isLeft(outcome)) return Either.left(outcome.left)
              outcomes.push(outcome.right)
            }
            return Either.right(outcomes)
          })
        }),
      read: (given) =>
        Effect.suspend(() =>
          Either.flatMap(checkedPath(memoryRoot, given), (path) => {
            const problem = clash(path, given)
            return problem === undefined
              ? Either.right(Option.fromNullable(files.get(path)))
              : Either.left(problem)
          })
        ),
      list: () => Effect.sync(() => [...written].sort()),
      commit: (message, commitOptions) =>
        Effect.suspend(() => {
          if (!commitWanted(git, commitOptions)) return Effect.succeed(Option.none())
          if (message.trim() === "")
            return Effect.fail(
              new WorkspaceError({ reason: "Git", root: memoryRoot, detail: "the commit message is empty" })
            )
          const next = new Map(committed)
          for (const path of written) next.set(path, files.get(path)!)
          const changed = [...next].some(([path, text]) => committed.get(path) !== text)
          if (!changed) return Effect.succeed(Option.none())
          const hash = createHash("sha1")
          hash.update(`${head}\n${git!.author.name} <${git!.author.email}>\n${message}\n`)
          for (const [path, text] of [...next].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
            hash.update(`${path}\u0000${text}\u0000`)
          head = hash.digest("hex")
          committed = next
          return Effect.succeed(Option.some(head))
        })
    }
    return service
  })

/** A fresh in-memory workspace per build of the layer. */
export const WorkspaceMemory = (
  options: WorkspaceMemoryOptions = {}
): Layer.Layer<Workspace, WorkspaceError> => Layer.effect(Workspace, makeWorkspaceMemory(options))
