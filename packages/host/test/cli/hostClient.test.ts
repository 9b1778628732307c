import { DevMatrixError } from "@devmatrix/sdk"
import type { DevMatrixErrorReason, ErrorCode } from "@devmatrix/sdk"
import { describe, expect, it } from "vitest"
import { parseHostBudgetArgs } from "../../src/cli/budgetCommand.js"
import { parseHostCancelArgs } from "../../src/cli/cancelCommand.js"
import { parseHostEventsArgs } from "../../src/cli/eventsCommand.js"
import { ExitCode } from "../../src/cli/exitCodes.js"
import { exitCodeOfHostError, hostTargetOf } from "../../src/cli/hostClient.js"
import type { HostTarget } from "../../src/cli/hostClient.js"
import { parseHostResumeArgs } from "../../src/cli/resumeCommand.js"
import { parseHostRunArgs } from "../../src/cli/runOnHost.js"
import { parseHostStatusArgs } from "../../src/cli/statusOnHost.js"

const host: HostTarget = { url: "ws://h:7420", token: "t", flags: "--host ws://h:7420 --token TOKEN" }

/** The message a parser refuses the command line with, or "accepted". */
const refusal = (parse: () => unknown) => {
  try {
    parse()
    return "accepted"
  } catch (error) {
    return (error as Error).message
  }
}

describe("hostTargetOf: --host and --token, or DEVMATRIX_HOST and DEVMATRIX_TOKEN", () => {
  it("names the host with the flags printed commands use; the token is never printed", () => {
    expect(hostTargetOf(["status", "--host", "http://h:1", "--token", "secret"], {})).toEqual({
      url: "http://h:1",
      token: "secret",
      flags: "--host http://h:1 --token TOKEN"
    })
    // From the environment, a printed command finds the token again there.
    expect(hostTargetOf(["x"], { DEVMATRIX_HOST: "wss://h/ws", DEVMATRIX_TOKEN: "secret" })).toEqual({
      url: "wss://h/ws",
      token: "secret",
      flags: "--host wss://h/ws"
    })
    expect(hostTargetOf(["--host=ws://h:2", "--token=s"], {})?.url).toBe("ws://h:2")
  })

  it("is absent without a host, whatever the other flags; a token alone or a host alone is a usage error", () => {
    expect(
      hostTargetOf(["run", "p.json", "--store", "memory:", "--json"], { DEVMATRIX_TOKEN: "t" })
    ).toBeUndefined()
    expect(refusal(() => hostTargetOf(["--token", "t"], {}))).toBe(
      "--token needs --host URL (or DEVMATRIX_HOST)"
    )
    expect(refusal(() => hostTargetOf(["--host", "ws://h"], {}))).toBe(
      "--host needs a token: --token T (or DEVMATRIX_TOKEN)"
    )
    expect(refusal(() => hostTargetOf(["--host"], {}))).toBe("--host needs a value")
    expect(refusal(() => hostTargetOf(["--host", "h:7420", "--token", "t"], {}))).toBe(
      '--host must be a ws://, wss://, http:// or https:// URL, got "h:7420"'
    )
    expect(refusal(() => hostTargetOf([], { DEVMATRIX_HOST: "ftp://h", DEVMATRIX_TOKEN: "t" }))).toMatch(
      /^DEVMATRIX_HOST must be a ws:\/\//
    )
  })
})

describe("a store's flags with --host are refused by name", () => {
  it.each([
    ["run", () => parseHostRunArgs(["p.json", "--store", "memory:"], {}, host), "--store"],
    ["run", () => parseHostRunArgs(["p.json", "--redis", "redis://r"], {}, host), "--redis"],
    ["run", () => parseHostRunArgs(["p.json", "--no-cache"], {}, host), "--no-cache"],
    ["run", () => parseHostRunArgs(["p.json", "--prices", "p.json"], {}, host), "--prices"],
    ["run", () => parseHostRunArgs(["p.json", "--seed", "3"], {}, host), "--seed"],
    ["run", () => parseHostRunArgs(["p.json", "--latency-ms", "3"], {}, host), "--latency-ms"],
    ["run", () => parseHostRunArgs(["p.json", "--fault-rate", "0.1"], {}, host), "--fault-rate"],
    ["resume", () => parseHostResumeArgs(["x", "--model", "scripted"], {}, host), "--model"],
    ["status", () => parseHostStatusArgs(["--store", "memory:"], {}, host), "--store"],
    ["events", () => parseHostEventsArgs(["x", "--store", "memory:"], {}, host), "--store"],
    ["budget", () => parseHostBudgetArgs(["x", "--hard", "1", "--store", "memory:"], {}, host), "--store"],
    ["cancel", () => parseHostCancelArgs(["x", "--store", "memory:"], {}, host), "--store"]
  ])("%s %s", (_, parse, flag) => {
    expect(refusal(parse)).toMatch(new RegExp(`^${flag} cannot be used with --host: `))
  })

  it("run's own flags are read as embedded; --model goes to the host unchecked (it has its keys and prices)", () => {
    expect(
      parseHostRunArgs(
        [
          "p.json",
          "--json",
          "--id",
          "n",
          "--budget",
          "2",
          "--mode",
          "waves",
          "--concurrency",
          "4",
          "--model",
          "claude-opus-5"
        ],
        {},
        host
      )
    ).toEqual({
      host,
      json: true,
      invocation: "devmatrix",
      file: "p.json",
      masterplanId: "n",
      overrides: { model: "claude-opus-5", mode: "waves", concurrency: 4, budget: { hardUsd: 2 } }
    })
    expect(refusal(() => parseHostRunArgs(["p.json", "--budget", "0"], {}, host))).toMatch(
      /^--budget must be/
    )
  })

  it("what a host cannot do is said: resume without an id, a soft limit", () => {
    expect(refusal(() => parseHostResumeArgs([], {}, host))).toMatch(
      /^with --host, resume needs the masterplan's id/
    )
    expect(refusal(() => parseHostBudgetArgs(["x", "--hard", "2", "--soft", "1"], {}, host))).toMatch(
      /^--soft cannot be used with --host: a host sets the soft limit at 80% of the hard one/
    )
  })
})

describe("exitCodeOfHostError: the embedded contract's codes", () => {
  const error = (reason: DevMatrixErrorReason, code: ErrorCode) =>
    new DevMatrixError({ reason, code, message: "m", outcomeUnknown: false })
  it.each([
    ["rejected", "unauthenticated", ExitCode.usage],
    ["rejected", "forbidden", ExitCode.usage],
    ["rejected", "not_found", ExitCode.usage],
    ["rejected", "conflict", ExitCode.usage],
    ["rejected", "invalid_command", ExitCode.usage],
    ["invalid", "invalid_command", ExitCode.failed],
    ["rejected", "queue_full", ExitCode.failed],
    ["rejected", "internal", ExitCode.failed],
    ["closed", "internal", ExitCode.storeFailed],
    ["timeout", "internal", ExitCode.storeFailed],
    ["disconnected", "internal", ExitCode.storeFailed],
    ["bad_reply", "internal", ExitCode.failed]
  ] as const)("%s %s: %d", (reason, code, exit) => {
    expect(exitCodeOfHostError(error(reason, code))).toBe(exit)
  })
})
