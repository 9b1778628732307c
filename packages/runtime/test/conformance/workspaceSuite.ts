import type { WorkspaceError, WorkspaceGitOptions, WorkspaceService } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import type { Scope } from "effect"

/** A workspace under test, and what it looks like from outside it. */
export interface OpenedWorkspace {
  readonly workspace: WorkspaceService
  /** The file at `path` under the root, read without the workspace; undefined if none. */
  readonly peek: (path: string) => string | undefined
  /** Everything outside the root that a write escaping it could reach, as text to compare. */
  readonly outside: () => string
}

/**
 * A Workspace implementation under test. `open` makes an empty root (in the test's scope, which
 * removes it after) holding `files` beforehand, written without the workspace, and opens a
 * workspace on it.
 */
export interface WorkspaceSubject {
  readonly open: (options?: {
    readonly files?: Readonly<Record<string, string>>
    readonly git?: WorkspaceGitOptions
  }) => Effect.Effect<OpenedWorkspace, WorkspaceError, Scope.Scope>
}

/** Paths that leave the root, each with the rule that refuses it. */
export const escapes = [
  ["../x", "escapes"],
  ["a/../../x", "escapes"],
  ["/etc/passwd", "absolute"],
  ["C:\\x", "backslash"],
  ["C:x", "drive"],
  ["a\\..\\..\\x", "backslash"],
  ["x\u0000.ts", "nul"],
  [".git/hooks/pre-commit", "gitDir"]
] as const

const failure = <A>(effect: Effect.Effect<A, WorkspaceError, Scope.Scope>) =>
  Effect.map(Effect.either(effect), (result) => {
    assert.isTrue(Either.isLeft(result), "expected the workspace to refuse")
    return (result as Either.Left<WorkspaceError, A>).left
  })

/** What every Workspace layer must do, whatever it writes to. */
export const workspaceSuite = (name: string, subject: WorkspaceSubject) =>
  describe(`Workspace conformance: ${name}`, () => {
    for (const [path, rule] of escapes)
      it.scoped(
        `refuses ${JSON.stringify(path)} (${rule}) in write, writeMany and read, writing nothing`,
        () =>
          Effect.gen(function* () {
            const { workspace, outside } = yield* subject.open()
            const before = outside()
            for (const refused of <ReadonlyArray<Effect.Effect<unknown, WorkspaceError>>>[
              workspace.write(path, "escaped\n"),
              workspace.write(path, "escaped\n", { overwrite: true }),
              workspace.writeMany([{ path, text: "escaped\n" }], { overwrite: true }),
              workspace.read(path)
            ]) {
              const error = yield* failure(refused)
              assert.strictEqual(error.reason, "PathEscape")
              assert.strictEqual(error.rule, rule)
              assert.strictEqual(error.path, path)
              assert.include(error.message, JSON.stringify(path))
              assert.include(error.message, `workspace ${workspace.root}: PathEscape: `)
            }
            assert.deepStrictEqual(yield* workspace.list(), [])
            assert.strictEqual(outside(), before)
          })
      )

    it.scoped("writes a new file under its normalised path, creating directories, and reads it back", () =>
      Effect.gen(function* () {
        const { workspace, peek } = yield* subject.open()
        assert.deepStrictEqual(yield* workspace.write("./src//lib/../index.ts", "export {}\n"), {
          path: "src/index.ts",
          outcome: "created"
        })
        assert.strictEqual(peek("src/index.ts"), "export {}\n")
        assert.deepStrictEqual(yield* workspace.read("src/index.ts"), Option.some("export {}\n"))
        assert.deepStrictEqual(yield* workspace.read("src/other.ts"), Option.none())
        assert.deepStrictEqual(yield* workspace.read("nowhere/other.ts"), Option.none())
        yield* workspace.write("README.md", "# é ✓ 😀\n")
        assert.strictEqual(peek("README.md"), "# é ✓ 😀\n")
        assert.deepStrictEqual(yield* workspace.list(), ["README.md", "src/index.ts"])
      })
    )

    it.scoped(
      "an existing file with other content is refused (Exists) and kept; with overwrite it is replaced",
      () =>
        Effect.gen(function* () {
          const { workspace, peek } = yield* subject.open({ files: { "src/a.ts": "mine\n" } })
          const error = yield* failure(workspace.write("src/a.ts", "generated\n"))
          assert.strictEqual(error.reason, "Exists")
          assert.strictEqual(error.path, "src/a.ts")
          assert.include(error.message, '"src/a.ts": a file with other content is there')
          assert.strictEqual(peek("src/a.ts"), "mine\n")
          assert.deepStrictEqual(yield* workspace.list(), [])
          assert.deepStrictEqual(yield* workspace.write("src/a.ts", "generated\n", { overwrite: true }), {
            path: "src/a.ts",
            outcome: "replaced"
          })
          assert.strictEqual(peek("src/a.ts"), "generated\n")
        })
    )

    it.scoped("writing the content already there is a no-op (a resumed run writes again)", () =>
      Effect.gen(function* () {
        const { workspace, peek } = yield* subject.open({ files: { "a.ts": "same\n" } })
        assert.deepStrictEqual(yield* workspace.write("a.ts", "same\n"), {
          path: "a.ts",
          outcome: "unchanged"
        })
        assert.deepStrictEqual(yield* workspace.write("b.ts", "b\n"), { path: "b.ts", outcome: "created" })
        assert.deepStrictEqual(yield* workspace.write("b.ts", "b\n"), { path: "b.ts", outcome: "unchanged" })
        assert.deepStrictEqual(yield* workspace.write("b.ts", "b\n", { overwrite: true }), {
          path: "b.ts",
          outcome: "unchanged"
        })
        assert.strictEqual(peek("a.ts"), "same\n")
        assert.deepStrictEqual(yield* workspace.list(), ["a.ts", "b.ts"])
      })
    )

    it.scoped("a file is never where a directory must go, nor the reverse (Io)", () =>
      Effect.gen(function* () {
        const { workspace, peek } = yield* subject.open({ files: { lib: "a file\n" } })
        assert.strictEqual((yield* failure(workspace.write("lib/x.ts", "x\n"))).reason, "Io")
        yield* workspace.write("src/x.ts", "x\n")
        assert.strictEqual((yield* failure(workspace.write("src", "y\n", { overwrite: true }))).reason, "Io")
        assert.strictEqual((yield* failure(workspace.read("lib/x.ts"))).reason, "Io")
        assert.strictEqual((yield* failure(workspace.read("src"))).reason, "Io")
        assert.strictEqual(peek("src/x.ts"), "x\n")
        assert.strictEqual(peek("lib"), "a file\n")
      })
    )

    it.scoped(
      "writeMany checks every file first: one refused path, or one existing file, and nothing is written",
      () =>
        Effect.gen(function* () {
          const { workspace, peek, outside } = yield* subject.open({ files: { "taken.ts": "mine\n" } })
          const before = outside()
          const good = [
            { path: "src/a.ts", text: "a\n" },
            { path: "src/b.ts", text: "b\n" }
          ]
          for (const [bad, reason] of [
            [{ path: "../escaped.ts", text: "x\n" }, "PathEscape"],
            [{ path: "taken.ts", text: "x\n" }, "Exists"],
            [{ path: "src/a.ts", text: "other\n" }, "Exists"],
            [{ path: "src/a.ts/c.ts", text: "c\n" }, "Io"]
          ] as const) {
            const error = yield* failure(workspace.writeMany([...good, bad]))
            assert.strictEqual(error.reason, reason, error.message)
            assert.strictEqual(error.path, bad.path)
            assert.strictEqual(peek("src/a.ts"), undefined)
            assert.strictEqual(peek("src/b.ts"), undefined)
          }
          assert.strictEqual(peek("taken.ts"), "mine\n")
          assert.deepStrictEqual(yield* workspace.list(), [])
          assert.strictEqual(outside(), before)
          assert.deepStrictEqual(yield* workspace.writeMany([...good, { path: "./src/a.ts", text: "a\n" }]), [
            { path: "src/a.ts", outcome: "created" },
            { path: "src/b.ts", outcome: "created" },
            { path: "src/a.ts", outcome: "unchanged" }
          ])
          assert.deepStrictEqual(yield* workspace.list(), ["src/a.ts", "src/b.ts"])
        })
    )

    it.scoped("without git, commit commits nothing", () =>
      Effect.gen(function* () {
        const { workspace } = yield* subject.open()
        yield* workspace.write("a.ts", "a\n")
        assert.deepStrictEqual(yield* workspace.commit("wave 0", { wave: 0 }), Option.none())
        assert.deepStrictEqual(yield* workspace.commit("done"), Option.none())
      })
    )

    it.scoped(
      "commits per wave what changed since the last commit, and skips a commit with nothing in it",
      () =>
        Effect.gen(function* () {
          const { workspace } = yield* subject.open({ git: { commitPerWave: true } })
          assert.deepStrictEqual(yield* workspace.commit("nothing yet", { wave: 0 }), Option.none())
          yield* workspace.write("a.ts", "a\n")
          const first = Option.getOrThrow(yield* workspace.commit("wave 0", { wave: 0 }))
          assert.match(first, /^[0-9a-f]{40}$/)
          assert.deepStrictEqual(yield* workspace.commit("wave 1", { wave: 1 }), Option.none())
          yield* workspace.write("a.ts", "a\n")
          assert.deepStrictEqual(yield* workspace.commit("wave 1", { wave: 1 }), Option.none())
          yield* workspace.write("b.ts", "b\n")
          const second = Option.getOrThrow(yield* workspace.commit("wave 1", { wave: 1 }))
          assert.notStrictEqual(second, first)
          yield* workspace.write("a.ts", "a, replaced\n", { overwrite: true })
          assert.isTrue(Option.isSome(yield* workspace.commit("wave 2", { wave: 2 })))
          const empty = yield* failure(workspace.commit("  "))
          assert.strictEqual(empty.reason, "Git")
        })
    )

    it.scoped("without commitPerWave, a wave's commit is skipped and the last commit takes everything", () =>
      Effect.gen(function* () {
        const { workspace } = yield* subject.open({ git: { commitPerWave: false } })
        yield* workspace.write("a.ts", "a\n")
        assert.deepStrictEqual(yield* workspace.commit("wave 0", { wave: 0 }), Option.none())
        yield* workspace.write("b.ts", "b\n")
        assert.isTrue(Option.isSome(yield* workspace.commit("the run")))
        assert.deepStrictEqual(yield* workspace.commit("the run again"), Option.none())
      })
    )

    it.scoped("a bad author is refused when the workspace opens (Git)", () =>
      Effect.gen(function* () {
        const error = yield* failure(
          subject.open({ git: { commitPerWave: true, author: "devmatrix@localhost" } })
        )
        assert.strictEqual(error.reason, "Git")
        assert.include(error.message, '"devmatrix@localhost" is not of the form "Name <email>"')
      })
    )
  })
