import { decideWrite } from "@devmatrix/core"
import type { WriteDecision } from "@devmatrix/core"
import { Effect, Either, Layer, Option, Random } from "effect"
import type { Stats } from "node:fs"
import { constants } from "node:fs"
import { link, lstat, mkdir, open, readlink, realpath, rename, unlink } from "node:fs/promises"
import { join, resolve, sep } from "node:path"
import { commitPaths, ensureRepository } from "./internal/workspaceGit.js"
import type { WorkspaceGitOptions, WorkspaceService, WrittenFile } from "./Workspace.js"
import {
  checkedFiles,
  checkedPath,
  commitWanted,
  existsError,
  gitSettingsOf,
  Workspace,
  WorkspaceError
} from "./Workspace.js"

/** Where `WorkspaceLive` writes. */
export interface WorkspaceLiveOptions {
  /** The output root; created (with its parents) if missing. Relative to the working directory. */
  readonly root: string
  /** Commit the written files with git in the root; off when absent. */
  readonly git?: WorkspaceGitOptions | undefined
}

/** Where a path leads: the real directory that holds (or will hold) the file, and the file if any. */
interface Located {
  readonly dir: string
  readonly target: string
  /** The file there: its bytes as a latin1 string (one character per byte, so equal strings are equal bytes), and its mode. */
  readonly existing?: { readonly bytes: string; readonly mode: number } | undefined
}

const codeOf = (cause: unknown): string | undefined => (cause as NodeJS.ErrnoException | undefined)?.code

/** The errors a hard link gets where the file system has none; the write then renames instead. */
const noHardLinks = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV"])

/** A rejection handler that turns the error `code` into undefined, and rethrows any other. */
const unless =
  (code: string) =>
  (cause: unknown): undefined => {
    if (codeOf(cause) === code) return undefined
    throw cause
  }

const outcomeOf = (decision: Exclude<WriteDecision, "refuse">): WrittenFile["outcome"] =>
  decision === "create" ? "created" : decision === "replace" ? "replaced" : "unchanged"

/**
 * A workspace on the real file system under `options.root`. Besides the textual path rules, no
 * write goes through a symbolic link: every directory on the way is looked at with `lstat` (and
 * created one at a time, then looked at again), the deepest existing one must have its real path
 * inside the root's, and a link at the file itself is refused. A new file is linked into place
 * from a complete temporary file, so it can neither follow a link planted at its name nor replace
 * a file that appeared meanwhile; a replaced file is renamed over, which replaces the name and
 * never writes into another file (a hard link to a file outside keeps its content).
 */
export const makeWorkspaceLive = (
  options: WorkspaceLiveOptions
): Effect.Effect<WorkspaceService, WorkspaceError> =>
  Effect.gen(function* () {
    const asGiven = resolve(options.root)
    const root = yield* Effect.tryPromise({
      try: () => mkdir(asGiven, { recursive: true }).then(() => realpath(asGiven)),
      catch: (cause) =>
        new WorkspaceError({
          reason: "Io",
          root: asGiven,
          detail: `cannot open the root: ${(cause as Error).message}`,
          cause
        })
    })
    const git = yield* gitSettingsOf(root, options.git)
    const inRoot = root.endsWith(sep) ? root : `${root}${sep}`
    const inside = (real: string) => real === root || real.startsWith(inRoot)
    const written = new Set<string>()
    const lock = yield* Effect.makeSemaphore(1)
    let repository = false

    const refuse = (reason: WorkspaceError["reason"], given: string, detail: string, cause?: unknown) =>
      new WorkspaceError({ reason, root, path: given, detail: `${JSON.stringify(given)}: ${detail}`, cause })

    const fs = <A>(given: string, what: string, run: () => Promise<A>) =>
      Effect.tryPromise({
        try: run,
        catch: (cause) => refuse("Io", given, `cannot ${what}: ${(cause as Error).message}`, cause)
      })

    /** The entry at `at` as `lstat` sees it (a link is not followed), or undefined if there is none. */
    const entryAt = (given: string, at: string) =>
      fs(given, "look at the path", () => lstat(at).catch(unless("ENOENT")))

    /** The refusal of a link at `at`, saying where it leads. */
    const linkRefusal = (given: string, shown: string, at: string) =>
      Effect.gen(function* () {
        const to = yield* Effect.promise(() => readlink(at).catch(() => "?"))
        const real = yield* Effect.promise(() => realpath(at).catch(() => undefined))
        const where =
          real === undefined ? "which leads nowhere" : inside(real) ? "inside the root" : "outside the root"
        return refuse(
          "PathEscape",
          given,
          `${JSON.stringify(shown)} is a symbolic link (to ${to}, ${where}); the workspace does not write through links`
        )
      })

    /** Fails unless the real path of the directory `dir` is inside the root. */
    const checkReal = (given: string, dir: string) =>
      Effect.flatMap(
        fs(given, "resolve the directory", () => realpath(dir)),
        (real) =>
          inside(real)
            ? Effect.void
            : Effect.fail(refuse("PathEscape", given, `its directory resolves to ${real}, outside the root`))
      )

    const fileIs = (given: string, stats: Stats | undefined, shown: string, at: string) =>
      Effect.gen(function* () {
        if (stats === undefined) return
        if (stats.isSymbolicLink()) return yield* Effect.fail(yield* linkRefusal(given, shown, at))
        if (stats.isDirectory()) return yield* Effect.fail(refuse("Io", given, "is a directory, not a file"))
        if (!stats.isFile()) return yield* Effect.fail(refuse("Io", given, "is not a regular file"))
      })

    /**
     * Follows the normalised `path` down from the root without following a link. With `create`,
     * each missing directory is made, alone, and looked at again; without, the walk stops at the
     * first missing one (nothing below it exists).
     */
    const locate = (given: string, path: string, create: boolean) =>
      Effect.gen(function* () {
        const segments = path.split("/")
        const name = segments.pop()!
        let dir = root
        for (let i = 0; i < segments.length; i++) {
          const next = join(dir, segments[i]!)
          const shown = segments.slice(0, i + 1).join("/")
          let stats = yield* entryAt(given, next)
          if (stats === undefined) {
            if (!create) {
              yield* checkReal(given, dir)
              return { dir, target: join(next, ...segments.slice(i + 1), name) } satisfies Located
            }
            yield* fs(given, `create the directory ${JSON.stringify(shown)}`, () =>
              mkdir(next).catch(unless("EEXIST"))
            )
            stats = yield* entryAt(given, next)
          }
          if (stats === undefined)
            return yield* Effect.fail(refuse("Io", given, `${JSON.stringify(shown)} vanished`))
          if (stats.isSymbolicLink()) return yield* Effect.fail(yield* linkRefusal(given, shown, next))
          if (!stats.isDirectory())
            return yield* Effect.fail(
              refuse("Io", given, `${JSON.stringify(shown)} is a file, not a directory`)
            )
          dir = next
        }
        yield* checkReal(given, dir)
        const target = join(dir, name)
        const stats = yield* entryAt(given, target)
        yield* fileIs(given, stats, path, target)
        if (stats === undefined) return { dir, target } satisfies Located
        const bytes = yield* fs(given, "read the file there", async () => {
          const handle = await open(target, constants.O_RDONLY | constants.O_NOFOLLOW)
          try {
            return await handle.readFile()
          } finally {
            await handle.close()
          }
        })
        return {
          dir,
          target,
          existing: { bytes: bytes.toString("latin1"), mode: stats.mode & 0o7777 }
        } satisfies Located
      })

    const decide = (given: string, located: Located, text: string, overwrite: boolean) => {
      const decision = decideWrite(
        located.existing?.bytes,
        Buffer.from(text, "utf8").toString("latin1"),
        overwrite
      )
      return decision === "refuse" ? Either.left(existsError(root, given)) : Either.right(decision)
    }

    /** Puts `text` in place at `located.target` from a complete, synced temporary file beside it. */
    const place = (given: string, located: Located, text: string, decision: "create" | "replace") =>
      Effect.gen(function* () {
        const temp = join(
          located.dir,
          `.devmatrix-${(yield* Random.nextIntBetween(0, 2 ** 48)).toString(36)}.tmp`
        )
        const mode = located.existing?.mode
        const put = Effect.gen(function* () {
          yield* fs(given, "write a temporary file", async () => {
            const handle = await open(temp, "wx", 0o666)
            try {
              await handle.writeFile(text, "utf8")
              if (mode !== undefined) await handle.chmod(mode)
              await handle.sync()
            } finally {
              await handle.close()
            }
          })
          if (decision === "replace")
            return yield* fs(given, "replace the file", () => rename(temp, located.target))
          const failure = yield* Effect.promise(() =>
            link(temp, located.target).then(
              () => undefined,
              (cause: unknown) => cause
            )
          )
          if (failure === undefined) return
          const code = codeOf(failure)
          if (code === "EEXIST")
            return yield* Effect.fail(
              refuse(
                "Exists",
                given,
                "a file appeared at the path while it was being written; it is left as it is"
              )
            )
          if (code !== undefined && noHardLinks.has(code))
            return yield* fs(given, "create the file", () => rename(temp, located.target))
          return yield* Effect.fail(
            refuse("Io", given, `cannot create the file: ${(failure as Error).message}`, failure)
          )
        })
        yield* Effect.ensuring(
          put,
          Effect.promise(() => unlink(temp).catch(() => undefined))
        )
        yield* Effect.promise(async () => {
          // The new name is durable once its directory is synced; a file system without that is no error.
          const handle = await open(located.dir, "r").catch(() => undefined)
          await handle?.sync().catch(() => undefined)
          await handle?.close()
        })
      })

    /** Writes one checked file, looking again at what is there now (it may differ from the plan). */
    const writeChecked = (given: string, path: string, text: string, overwrite: boolean) =>
      Effect.gen(function* () {
        const located = yield* locate(given, path, true)
        const decision = yield* decide(given, located, text, overwrite)
        if (decision !== "unchanged") yield* place(given, located, text, decision)
        written.add(path)
        return { path, outcome: outcomeOf(decision) } satisfies WrittenFile
      })

    /** Refuses, before anything is created, a write that `writeChecked` would refuse now. */
    const plan = (given: string, path: string, text: string, overwrite: boolean) =>
      Effect.flatMap(locate(given, path, false), (located) => decide(given, located, text, overwrite))

    const service: WorkspaceService = {
      root,
      write: (given, text, writeOptions) =>
        lock.withPermits(1)(
          Effect.gen(function* () {
            const overwrite = writeOptions?.overwrite === true
            const path = yield* checkedPath(root, given)
            yield* plan(given, path, text, overwrite)
            return yield* writeChecked(given, path, text, overwrite)
          })
        ),
      writeMany: (files, writeOptions) =>
        lock.withPermits(1)(
          Effect.gen(function* () {
            const overwrite = writeOptions?.overwrite === true
            const checked = yield* checkedFiles(root, files)
            for (const file of checked) yield* plan(file.given, file.path, file.text, overwrite)
            return yield* Effect.forEach(checked, (file) =>
              writeChecked(file.given, file.path, file.text, overwrite)
            )
          })
        ),
      read: (given) =>
        Effect.gen(function* () {
          const path = yield* checkedPath(root, given)
          const located = yield* locate(given, path, false)
          return Option.map(Option.fromNullable(located.existing), (file) =>
            Buffer.from(file.bytes, "latin1").toString("utf8")
          )
        }),
      list: () => Effect.sync(() => [...written].sort()),
      commit: (message, commitOptions) =>
        lock.withPermits(1)(
          Effect.gen(function* () {
            if (git === undefined || !commitWanted(git, commitOptions)) return Option.none()
            if (message.trim() === "")
              return yield* Effect.fail(
                new WorkspaceError({ reason: "Git", root, detail: "the commit message is empty" })
              )
            if (!repository) yield* ensureRepository(root, git)
            repository = true
            return yield* commitPaths(root, git, [...written].sort(), message)
          })
        )
    }
    return service
  })

/**
 * The workspace on the real file system, the production choice.
 *
 * @example
 * const layer = WorkspaceLive({ root: "out", git: { commitPerWave: true } })
 */
export const WorkspaceLive = (options: WorkspaceLiveOptions): Layer.Layer<Workspace, WorkspaceError> =>
  Layer.effect(Workspace, makeWorkspaceLive(options))
