import { Effect, Option } from "effect"
import { spawn } from "node:child_process"
import { realpath } from "node:fs/promises"
import type { GitSettings } from "../Workspace.js"
import { WorkspaceError } from "../Workspace.js"

/** What a git command printed, and how it ended. */
interface GitRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * Settings given to every git command: no hooks (the files are generated, and a hook a generated
 * file named would run with our rights), no signing prompt, content committed byte for byte (no
 * line-ending conversion), and the user's global excludes ignored (they are about their machine).
 */
const gitConfig = [
  "-c",
  "core.hooksPath=/dev/null",
  "-c",
  "commit.gpgSign=false",
  "-c",
  "core.autocrlf=false",
  "-c",
  "core.excludesFile=/dev/null",
  "-c",
  "init.defaultBranch=main"
]

/**
 * The environment of git: ours without any `GIT_*` variable (a `GIT_DIR` or `GIT_INDEX_FILE` set
 * by whoever started us, a hook for instance, would send the commit elsewhere), with the author.
 */
const gitEnv = (git: GitSettings): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("GIT_")) env[name] = value
  return {
    ...env,
    GIT_AUTHOR_NAME: git.author.name,
    GIT_AUTHOR_EMAIL: git.author.email,
    GIT_COMMITTER_NAME: git.author.name,
    GIT_COMMITTER_EMAIL: git.author.email,
    GIT_TERMINAL_PROMPT: "0"
  }
}

/** Runs `git <args>` in `root`, `input` on its stdin; interrupting the fiber kills it. */
const runGit = (root: string, git: GitSettings, args: ReadonlyArray<string>, input = "") =>
  Effect.async<GitRun, WorkspaceError>((resume, signal) => {
    const child = spawn("git", [...gitConfig, ...args], { cwd: root, env: gitEnv(git), signal })
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk))
    child.on("error", (cause) => {
      if (!signal.aborted)
        resume(
          Effect.fail(
            new WorkspaceError({ reason: "Git", root, detail: `cannot run git: ${cause.message}`, cause })
          )
        )
    })
    child.on("close", (code) =>
      resume(
        Effect.succeed({
          code: code ?? -1,
          stdout: Buffer.concat(stdout).toString("utf8"),
          stderr: Buffer.concat(stderr).toString("utf8")
        })
      )
    )
    child.stdin.on("error", () => {}) // git may exit before reading all of it; its exit code says why
    child.stdin.end(input)
  })

/** Runs git and fails with `Git` (naming the command and what git said) unless it exits 0. */
const gitOk = (root: string, git: GitSettings, args: ReadonlyArray<string>, input?: string) =>
  Effect.flatMap(runGit(root, git, args, input), (run) =>
    run.code === 0
      ? Effect.succeed(run.stdout)
      : Effect.fail(
          new WorkspaceError({
            reason: "Git",
            root,
            detail: `git ${args.find((arg) => !arg.startsWith("-"))} exited with ${run.code}: ${run.stderr.trim() || run.stdout.trim()}`
          })
        )
  )

/**
 * Makes `root` a repository of its own unless it already is the top of one. A root inside another
 * repository gets its own, so the commits never land in the history of the project around it.
 */
export const ensureRepository = (root: string, git: GitSettings): Effect.Effect<void, WorkspaceError> =>
  Effect.gen(function* () {
    const top = yield* runGit(root, git, ["rev-parse", "--show-toplevel"])
    if (top.code === 0) {
      const real = yield* Effect.promise(() => realpath(top.stdout.trim()).catch(() => ""))
      if (real === root) return
    }
    yield* gitOk(root, git, ["init", "--quiet"])
  })

/**
 * Stages `paths` (relative to `root`, as the workspace wrote them) and commits those of them that
 * differ from HEAD, and only those (something else staged in the root stays staged); the new
 * commit's hash, or none when none of them changed. Ignored paths are added too: they are output.
 */
export const commitPaths = (
  root: string,
  git: GitSettings,
  paths: ReadonlyArray<string>,
  message: string
): Effect.Effect<Option.Option<string>, WorkspaceError> =>
  Effect.gen(function* () {
    if (paths.length === 0) return Option.none()
    const pathspec = (list: ReadonlyArray<string>) => list.map((path) => `${path}\u0000`).join("")
    const literal = ["--literal-pathspecs"]
    yield* gitOk(
      root,
      git,
      [...literal, "add", "--force", "--pathspec-from-file=-", "--pathspec-file-nul"],
      pathspec(paths)
    )
    const staged = yield* gitOk(root, git, [
      ...literal,
      "diff",
      "--cached",
      "--name-only",
      "-z",
      "--no-renames"
    ])
    const ours = new Set(paths)
    const changed = staged.split("\u0000").filter((path) => ours.has(path))
    if (changed.length === 0) return Option.none()
    yield* gitOk(
      root,
      git,
      [
        ...literal,
        "commit",
        "--quiet",
        "--no-verify",
        "--pathspec-from-file=-",
        "--pathspec-file-nul",
        "-m",
        message
      ],
      pathspec(changed)
    )
    return Option.some((yield* gitOk(root, git, ["rev-parse", "HEAD"])).trim())
  })
