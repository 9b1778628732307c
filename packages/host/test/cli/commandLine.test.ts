import { describe, expect, it } from "vitest"
import { invocationOf, resumeCommandLine } from "../../src/cli/commandLine.js"
import { parseResumeArgs } from "../../src/cli/resumeCommand.js"

describe("invocationOf", () => {
  it.each([
    [{}, "devmatrix"],
    [
      { npm_lifecycle_event: "start", npm_execpath: "/usr/lib/node_modules/pnpm/bin/pnpm.cjs" },
      "pnpm devmatrix"
    ],
    [{ npm_execpath: "/usr/lib/node_modules/npm/bin/npm-cli.js" }, "npm run devmatrix --"],
    [
      { npm_lifecycle_event: "start", npm_config_user_agent: "pnpm/10.34.9 npm/? node/v20.20.2" },
      "pnpm devmatrix"
    ],
    [
      { npm_lifecycle_event: "start", npm_config_user_agent: "yarn/4.5.0 npm/? node/v20.20.2" },
      "yarn devmatrix"
    ],
    [{ npm_lifecycle_event: "", npm_execpath: "" }, "devmatrix"]
  ])("%j runs %s", (env, expected) => {
    expect(invocationOf(env)).toBe(expected)
  })
})

describe("resumeCommandLine", () => {
  it("quotes what the shell would split or expand", () => {
    expect(resumeCommandLine("devmatrix", "sqlite:.devmatrix/devmatrix.db", "mp_1")).toBe(
      "devmatrix resume mp_1 --store sqlite:.devmatrix/devmatrix.db"
    )
    expect(resumeCommandLine("pnpm devmatrix", "sqlite:/tmp/my plans/x.db", "it's")).toBe(
      `pnpm devmatrix resume 'it'\\''s' --store 'sqlite:/tmp/my plans/x.db'`
    )
    expect(resumeCommandLine("devmatrix", "memory:")).toBe("devmatrix resume --store memory:")
  })

  it("puts an id that looks like a flag after --, and resume reads it back as that id", () => {
    for (const id of ["--help", "-h", "--store", "-x y"]) {
      const line = resumeCommandLine("devmatrix", "sqlite:x.db", id)
      expect(line.startsWith("devmatrix resume --store sqlite:x.db -- ")).toBe(true)
      // The words as the shell hands them over (the id quoted only when it holds a space).
      const words = line.split(" -- ")[1]!
      const argv = ["--store", "sqlite:x.db", "--", words.startsWith("'") ? words.slice(1, -1) : words]
      expect(parseResumeArgs(argv, {}).masterplanId).toBe(id)
    }
  })
})
