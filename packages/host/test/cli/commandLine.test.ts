import { describe, expect, it } from "vitest"
import { invocationOf, resumeCommandLine } from "../../src/cli/commandLine.js"

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
})
