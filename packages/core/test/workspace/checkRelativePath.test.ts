import { checkRelativePath, maxSegmentBytes } from "@devmatrix/core"
import type { PathRule } from "@devmatrix/core"
import { Either } from "effect"
import fc from "fast-check"
import { posix, win32 } from "node:path"
import { describe, expect, it } from "vitest"

const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 300)

const ruleOf = (path: string): PathRule | "accepted" =>
  Either.match(checkRelativePath(path), { onLeft: (refusal) => refusal.rule, onRight: () => "accepted" })

/** Where a `..`-walk of the segments ends, or undefined when it leaves the root on the way. */
const walk = (segments: ReadonlyArray<string>): ReadonlyArray<string> | undefined => {
  const kept: Array<string> = []
  for (const segment of segments) {
    if (segment === "" || segment === ".") continue
    if (segment === "..") {
      if (kept.pop() === undefined) return undefined
    } else kept.push(segment)
  }
  return kept
}

describe("checkRelativePath", () => {
  it.each([
    ["../x", "escapes"],
    ["a/../../x", "escapes"],
    ["./../x", "escapes"],
    ["a/b/../../../x", "escapes"],
    ["/etc/passwd", "absolute"],
    ["//server/share/x", "absolute"],
    ["C:\\x", "backslash"],
    ["C:x", "drive"],
    ["c:/x", "drive"],
    ["a\\..\\..\\x", "backslash"],
    ["a\u0000b", "nul"],
    ["a\nb", "control"],
    ["a\ud800.ts", "encoding"],
    ["a\udc00.ts", "encoding"],
    ["", "empty"],
    ["a/", "notAFile"],
    [".", "notAFile"],
    ["a/..", "notAFile"],
    ["a/b/.", "notAFile"],
    [".git/hooks/pre-commit", "gitDir"],
    ["src/.GIT/config", "gitDir"],
    [`a/${"x".repeat(maxSegmentBytes + 1)}`, "tooLong"],
    [`${"a/".repeat(2_048)}x`, "tooLong"]
  ] as const)("refuses %j (%s)", (path, rule) => {
    expect(ruleOf(path)).toBe(rule)
  })

  it("names the path and the rule in its message", () => {
    expect(checkRelativePath("a/../../x")).toEqual(
      Either.left({ rule: "escapes", message: '"a/../../x": a ".." segment leaves the root' })
    )
    expect(checkRelativePath("a\u0000b")).toEqual(
      Either.left({ rule: "nul", message: '"a\\u0000b": the path holds a NUL byte' })
    )
  })

  it.each([
    ["index.ts", "index.ts"],
    ["./src//a/../b.ts", "src/b.ts"],
    ["a/b/../../c", "c"],
    [".gitignore", ".gitignore"],
    ["src/.github/x.yml", "src/.github/x.yml"],
    ["..a/b..", "..a/b.."],
    [`a/${"é".repeat(127)}`, `a/${"é".repeat(127)}`],
    ["\ud83d\ude00.ts", "\ud83d\ude00.ts"]
  ])("accepts %j as %j", (path, normalised) => {
    expect(checkRelativePath(path)).toEqual(Either.right(normalised))
  })

  it("any path it accepts resolves inside the root, on POSIX and Windows, as POSIX normalises it, and survives UTF-8 (property)", () => {
    const piece = fc.constantFrom(
      "a",
      "b.ts",
      "..",
      ".",
      "/",
      "\\",
      ":",
      "C:",
      "\u0000",
      "\n",
      "é",
      "\ud800",
      " ",
      "~",
      ".git"
    )
    const path = fc.oneof(
      fc.array(piece, { maxLength: 12 }).map((pieces) => pieces.join("")),
      fc.string({ unit: "binary", maxLength: 40 })
    )
    fc.assert(
      fc.property(path, (given) => {
        const checked = checkRelativePath(given)
        if (Either.isLeft(checked)) return
        const normalised = checked.right
        expect(normalised).toBe(posix.normalize(given))
        expect(normalised.split("/")).not.toContain("..")
        // The name the OS gets (UTF-8) is the one checked: no two accepted paths share a file.
        expect(Buffer.from(normalised, "utf8").toString("utf8")).toBe(normalised)
        expect(posix.resolve("/root", given)).toBe(`/root/${normalised}`)
        expect(win32.resolve("C:\\root", given)).toBe(`C:\\root\\${normalised.replaceAll("/", "\\")}`)
      }),
      { numRuns }
    )
  })

  it("any path whose `..` leaves the root is refused, and any other path to a file is accepted as walked (property)", () => {
    const segment = fc.constantFrom("a", "b", "c.ts", "..", ".", "")
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 1, maxLength: 10 }),
        fc.constantFrom("x.ts", "y"),
        (dirs, name) => {
          const path = [...dirs, name].join("/")
          const walked = walk([...dirs, name])
          if (path.startsWith("/")) expect(ruleOf(path)).toBe("absolute")
          else if (walked === undefined) expect(ruleOf(path)).toBe("escapes")
          else expect(checkRelativePath(path)).toEqual(Either.right(walked.join("/")))
        }
      ),
      { numRuns }
    )
  })
})
