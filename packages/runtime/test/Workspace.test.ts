import type { WorkspaceError, WorkspaceGitOptions } from "@devmatrix/runtime"
import { makeWorkspaceLive, makeWorkspaceMemory } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import { execFileSync } from "node:child_process"
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import { realpathSync } from "node:fs"
import { dirname, join } from "node:path"
import fc from "fast-check"
import { fillUp, withTmpfs } from "./tmpfs.js"
import type { OpenedWorkspace } from "./conformance/workspaceSuite.js"
import { workspaceSuite } from "./conformance/workspaceSuite.js"

/** A fresh directory for one test, removed when its scope closes. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "devmatrix-workspace-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** Every entry under `dir` but `skip`, with the content of files and the target of links, as text. */
const snapshot = (dir: string, skip?: string): string => {
  const lines: Array<string> = []
  const walk = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const entry = join(at, name)
      if (entry === skip) continue
      const stats = lstatSync(entry)
      if (stats.isSymbolicLink()) lines.push(`${entry} -> link`)
      else if (stats.isDirectory()) {
        lines.push(`${entry}/`)
        walk(entry)
      } else lines.push(`${entry}: ${readFileSync(entry, "utf8")}`)
    }
  }
  walk(dir)
  return lines.join("\n")
}

const writeTree = (root: string, files: Readonly<Record<string, string>>) => {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), text)
  }
}

/** A root `root` in a fresh parent directory holding a file of its own, so an escape would show. */
const openLive = (options: { files?: Readonly<Record<string, string>>; git?: WorkspaceGitOptions } = {}) =>
  Effect.gen(function* () {
    const parent = yield* tempDir
    const root = join(parent, "root")
    writeTree(parent, { "outside/keep.txt": "outside\n" })
    mkdirSync(root)
    writeTree(root, options.files ?? {})
    const workspace = yield* makeWorkspaceLive({ root, git: options.git })
    return {
      workspace,
      parent,
      root,
      peek: (path: string) =>
        existsSync(join(root, path)) ? readFileSync(join(root, path), "utf8") : undefined,
      outside: () => snapshot(parent, root)
    } satisfies OpenedWorkspace & { parent: string; root: string }
  })

workspaceSuite("memory", {
  open: (options = {}) =>
    Effect.map(makeWorkspaceMemory(options), (workspace) => ({
      workspace,
      peek: (path) => Effect.runSync(workspace.read(path)).pipe(Option.getOrUndefined),
      outside: () => ""
    }))
})

workspaceSuite("live", { open: openLive })

const refusal = <A>(effect: Effect.Effect<A, WorkspaceError>) =>
  Effect.map(Effect.either(effect), (result) => {
    assert.isTrue(Either.isLeft(result), "expected the workspace to refuse")
    return (result as Either.Left<WorkspaceError, A>).left
  })

describe("WorkspaceLive on the file system", () => {
  it.scoped(
    "a symbolic link to a directory outside: writing through it is refused, nothing is written there",
    () =>
      Effect.gen(function* () {
        const { workspace, parent, root, outside } = yield* openLive()
        symlinkSync(join(parent, "outside"), join(root, "link"))
        mkdirSync(join(root, "real"))
        symlinkSync(join(parent, "outside"), join(root, "real", "deeper"))
        const before = outside()
        for (const path of ["link/x.ts", "link/new/x.ts", "real/deeper/x.ts", "link/keep.txt"]) {
          for (const write of <ReadonlyArray<Effect.Effect<unknown, WorkspaceError>>>[
            workspace.write(path, "escaped\n", { overwrite: true }),
            workspace.writeMany([{ path, text: "escaped\n" }])
          ]) {
            const error = yield* refusal(write)
            assert.strictEqual(error.reason, "PathEscape", error.message)
            assert.isUndefined(error.rule)
            assert.include(error.message, "is a symbolic link")
            assert.include(error.message, "outside the root")
          }
        }
        assert.strictEqual((yield* refusal(workspace.read("link/keep.txt"))).reason, "PathEscape")
        assert.strictEqual(outside(), before)
        assert.deepStrictEqual(yield* workspace.list(), [])
      })
  )

  it.scoped(
    "a symbolic link to a file outside: writing or reading it is refused, the file is unchanged",
    () =>
      Effect.gen(function* () {
        const { workspace, parent, root, outside } = yield* openLive()
        const target = join(parent, "outside", "keep.txt")
        symlinkSync(target, join(root, "keep.txt"))
        symlinkSync(join(parent, "outside", "missing.txt"), join(root, "dangling.txt"))
        const before = outside()
        for (const path of ["keep.txt", "dangling.txt"]) {
          for (const write of <ReadonlyArray<Effect.Effect<unknown, WorkspaceError>>>[
            workspace.write(path, "outside\n"),
            workspace.write(path, "escaped\n", { overwrite: true }),
            workspace.read(path)
          ]) {
            const error = yield* refusal(write)
            assert.strictEqual(error.reason, "PathEscape", error.message)
            assert.include(error.message, `"${path}" is a symbolic link`)
          }
        }
        assert.strictEqual(outside(), before)
        assert.isFalse(existsSync(join(parent, "outside", "missing.txt")))
        assert.isTrue(lstatSync(join(root, "keep.txt")).isSymbolicLink())
      })
  )

  it.scoped(
    "a link inside the root, to inside the root, is not written through either (one rule: no links)",
    () =>
      Effect.gen(function* () {
        const { workspace, root } = yield* openLive({ files: { "src/a.ts": "a\n" } })
        symlinkSync(join(root, "src"), join(root, "alias"))
        const error = yield* refusal(workspace.write("alias/b.ts", "b\n"))
        assert.strictEqual(error.reason, "PathEscape")
        assert.include(error.message, "inside the root")
        assert.isFalse(existsSync(join(root, "src", "b.ts")))
      })
  )

  it.scoped("a root reached through a link is written in its real place", () =>
    Effect.gen(function* () {
      const parent = yield* tempDir
      mkdirSync(join(parent, "real"))
      symlinkSync(join(parent, "real"), join(parent, "alias"))
      const workspace = yield* makeWorkspaceLive({ root: join(parent, "alias") })
      assert.strictEqual(workspace.root, join(parent, "real"))
      yield* workspace.write("a/b.ts", "b\n")
      assert.strictEqual(readFileSync(join(parent, "real", "a", "b.ts"), "utf8"), "b\n")
    })
  )

  it.scoped(
    "overwriting a hard link to a file outside replaces the name, never the outside file's content",
    () =>
      Effect.gen(function* () {
        const { workspace, parent, root, outside } = yield* openLive()
        linkSync(join(parent, "outside", "keep.txt"), join(root, "shared.txt"))
        const before = outside()
        assert.strictEqual((yield* refusal(workspace.write("shared.txt", "generated\n"))).reason, "Exists")
        yield* workspace.write("shared.txt", "generated\n", { overwrite: true })
        assert.strictEqual(readFileSync(join(root, "shared.txt"), "utf8"), "generated\n")
        assert.strictEqual(outside(), before)
      })
  )

  it.scoped("leaves no temporary file behind, creates the root, and keeps a replaced file's mode", () =>
    Effect.gen(function* () {
      const parent = yield* tempDir
      const root = join(parent, "made", "for", "it")
      const workspace = yield* makeWorkspaceLive({ root })
      yield* workspace.writeMany([
        { path: "bin/run.sh", text: "#!/bin/sh\n" },
        { path: "src/a.ts", text: "a\n" }
      ])
      chmodSync(join(root, "bin", "run.sh"), 0o750)
      yield* workspace.write("bin/run.sh", "#!/bin/sh\necho hi\n", { overwrite: true })
      assert.strictEqual(statSync(join(root, "bin", "run.sh")).mode & 0o7777, 0o750)
      assert.strictEqual(
        snapshot(root),
        [
          `${root}/bin/`,
          `${root}/bin/run.sh: #!/bin/sh\necho hi\n`,
          `${root}/src/`,
          `${root}/src/a.ts: a\n`
        ].join("\n")
      )
    })
  )

  it.scoped(
    "a second workspace on the same root (a resume) finds the files written and changes nothing",
    () =>
      Effect.gen(function* () {
        const { workspace, root } = yield* openLive()
        const files = [
          { path: "src/a.ts", text: "a\n" },
          { path: "src/b.ts", text: "b\n" }
        ]
        yield* workspace.writeMany(files)
        const mtimes = files.map((file) => statSync(join(root, file.path)).mtimeMs)
        const again = yield* makeWorkspaceLive({ root })
        assert.deepStrictEqual(
          (yield* again.writeMany(files)).map((written) => written.outcome),
          ["unchanged", "unchanged"]
        )
        assert.deepStrictEqual(
          files.map((file) => statSync(join(root, file.path)).mtimeMs),
          mtimes
        )
      })
  )
})

const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 100)

describe("WorkspaceLive, whatever it is given", () => {
  it("a write lands inside the root or is refused, links and all: nothing outside changes (property)", async () => {
    await Effect.gen(function* () {
      const { workspace, parent, root, outside } = yield* openLive({ files: { "a/keep.ts": "kept\n" } })
      symlinkSync(parent, join(root, "up"))
      symlinkSync(root, join(root, "self"))
      symlinkSync(join(parent, "outside", "keep.txt"), join(root, "a", "file-link"))
      const before = outside()
      // Paths of names the root holds (links among them), and paths of pieces that break the text rules.
      const segment = fc.constantFrom(
        "a",
        "b",
        "up",
        "self",
        "file-link",
        "outside",
        "keep.txt",
        "..",
        ".",
        ""
      )
      const piece = fc.constantFrom("a", "up", "/", "\\", "..", "C:", "\u0000", "\n")
      const path = fc.oneof(
        fc.array(segment, { minLength: 1, maxLength: 6 }).map((segments) => segments.join("/")),
        fc.array(piece, { minLength: 1, maxLength: 8 }).map((pieces) => pieces.join(""))
      )
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(path, fc.boolean(), async (given, many) => {
            const write = many
              ? Effect.map(
                  workspace.writeMany([{ path: given, text: "x\n" }], { overwrite: true }),
                  (all) => all[0]!
                )
              : workspace.write(given, "x\n", { overwrite: true })
            const result = await Effect.runPromise(Effect.either(write))
            if (Either.isRight(result)) {
              const real = realpathSync(join(root, result.right.path))
              assert.isTrue(real.startsWith(`${root}/`), `${given} was written at ${real}`)
              assert.strictEqual(readFileSync(real, "utf8"), "x\n")
            } else assert.include(["PathEscape", "Io"], result.left.reason, result.left.message)
          }),
          { numRuns }
        )
      )
      assert.strictEqual(outside(), before)
    }).pipe(Effect.scoped, Effect.runPromise)
  })
})

describe("WorkspaceLive when the disk is full", () => {
  it("a write that runs out of space fails as Io, leaving the old file whole and no temporary file", async () => {
    await withTmpfs(1, (dir) =>
      Effect.gen(function* () {
        const root = join(dir, "out")
        const workspace = yield* makeWorkspaceLive({ root })
        yield* workspace.write("src/a.ts", "old\n")
        const filler = fillUp(dir)
        const big = "x".repeat(256 * 1024)
        for (const write of [
          workspace.write("src/a.ts", big, { overwrite: true }),
          workspace.write("src/b.ts", big)
        ]) {
          const error = yield* Effect.flip(write)
          assert.strictEqual(error.reason, "Io")
          assert.include(error.message, "ENOSPC")
        }
        assert.strictEqual(readFileSync(join(root, "src", "a.ts"), "utf8"), "old\n")
        assert.deepStrictEqual(readdirSync(join(root, "src")), ["a.ts"])
        rmSync(filler)
        assert.deepStrictEqual(yield* workspace.write("src/b.ts", big), {
          path: "src/b.ts",
          outcome: "created"
        })
        assert.strictEqual(readFileSync(join(root, "src", "b.ts"), "utf8"), big)
      }).pipe(Effect.runPromise)
    )
  })
})

const git = (root: string, ...args: ReadonlyArray<string>) =>
  execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: "pipe" }).trim()

/** Whether git can run here; in CI it must. */
const gitRuns = (() => {
  try {
    execFileSync("git", ["--version"], { stdio: "pipe" })
    return true
  } catch (error) {
    if (process.env["CI"] !== undefined) throw error
    console.warn(`WorkspaceLive with git: not run, git cannot run here (${(error as Error).message})`)
    return false
  }
})()

describe.runIf(gitRuns)("WorkspaceLive with git", () => {
  it.scoped(
    "one commit per wave, holding that wave's files, by the given author; an empty wave makes none",
    () =>
      Effect.gen(function* () {
        const { workspace, root } = yield* openLive({
          git: { commitPerWave: true, author: "Ada Lovelace <ada@example.com>" }
        })
        yield* workspace.writeMany([
          { path: "src/types.ts", text: "export type Id = string\n" },
          { path: "package.json", text: "{}\n" }
        ])
        const wave0 = Option.getOrThrow(yield* workspace.commit("wave 0", { wave: 0 }))
        yield* workspace.write("src/index.ts", "export * from './types.js'\n")
        yield* workspace.write("src/types.ts", "export type Id = string\n")
        const wave1 = Option.getOrThrow(yield* workspace.commit("wave 1", { wave: 1 }))
        assert.deepStrictEqual(yield* workspace.commit("wave 2", { wave: 2 }), Option.none())
        assert.strictEqual(git(root, "rev-parse", "HEAD"), wave1)
        assert.strictEqual(git(root, "rev-list", "--count", "HEAD"), "2")
        assert.strictEqual(
          git(root, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", wave0),
          "Ada Lovelace <ada@example.com>|Ada Lovelace <ada@example.com>|wave 0"
        )
        assert.strictEqual(git(root, "show", "--format=", "--name-only", wave0), "package.json\nsrc/types.ts")
        assert.strictEqual(git(root, "show", "--format=%s", "--name-only", wave1), "wave 1\n\nsrc/index.ts")
        assert.strictEqual(git(root, "show", `${wave1}:src/types.ts`), "export type Id = string")
        assert.strictEqual(git(root, "status", "--porcelain"), "")
      })
  )

  it.scoped("the default author is DevMatrix; a root inside another repository gets its own", () =>
    Effect.gen(function* () {
      const outer = yield* tempDir
      git(outer, "init", "--quiet")
      const root = join(outer, "generated")
      const workspace = yield* makeWorkspaceLive({ root, git: { commitPerWave: false } })
      yield* workspace.write("a.ts", "a\n")
      const hash = Option.getOrThrow(yield* workspace.commit("the run"))
      assert.strictEqual(git(root, "rev-parse", "--show-toplevel"), root)
      assert.strictEqual(
        git(root, "log", "-1", "--format=%H %an <%ae>"),
        `${hash} DevMatrix <devmatrix@localhost>`
      )
      assert.throws(() => git(outer, "rev-parse", "HEAD"))
    })
  )

  it.scoped("commits only the files it wrote: what else is staged or lying in the root stays out", () =>
    Effect.gen(function* () {
      const { workspace, root } = yield* openLive({
        files: { "notes.txt": "mine\n", "staged.txt": "mine too\n" },
        git: { commitPerWave: true }
      })
      git(root, "init", "--quiet")
      git(root, "add", "staged.txt")
      yield* workspace.write("a.ts", "a\n")
      const hash = Option.getOrThrow(yield* workspace.commit("wave 0", { wave: 0 }))
      assert.strictEqual(git(root, "show", "--format=", "--name-only", hash), "a.ts")
      assert.strictEqual(git(root, "status", "--porcelain"), "A  staged.txt\n?? notes.txt")
    })
  )

  it.scoped("runs no hook, not even one the repository names, and ignores GIT_DIR from the environment", () =>
    Effect.gen(function* () {
      const { workspace, root, parent } = yield* openLive({ git: { commitPerWave: true } })
      git(root, "init", "--quiet")
      const marker = join(parent, "hook-ran")
      const hook = `#!/bin/sh\ntouch ${marker}\n`
      const hooks = ["pre-commit", "commit-msg", "post-commit"].flatMap((name) => [
        `.git/hooks/${name}`,
        `hooks/${name}`
      ])
      writeTree(root, Object.fromEntries(hooks.map((file) => [file, hook])))
      for (const file of hooks) chmodSync(join(root, file), 0o755)
      git(root, "config", "core.hooksPath", "hooks")
      const elsewhere = yield* tempDir
      const saved = process.env["GIT_DIR"]
      process.env["GIT_DIR"] = join(elsewhere, ".git")
      yield* Effect.addFinalizer(() =>
        Effect.sync(() =>
          saved === undefined ? delete process.env["GIT_DIR"] : (process.env["GIT_DIR"] = saved)
        )
      )
      yield* workspace.write("a.ts", "a\n")
      assert.isTrue(Option.isSome(yield* workspace.commit("wave 0", { wave: 0 })))
      assert.isFalse(existsSync(marker))
      assert.deepStrictEqual(readdirSync(elsewhere), [])
    })
  )
})
