import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { parseFakeProviderArgs } from "../../src/fakeAnthropic/fakeProviderCommand.js"
import { Anthropic, AuthenticationError } from "./anthropicSdk.js"
import { atomPrompt } from "./harness.js"

// The built `devmatrix` binary, run as a user would (`pnpm typecheck` builds it first).
const bin = join(import.meta.dirname, "../../bin/devmatrix.js")

describe("devmatrix fake-provider: arguments", () => {
  it("reads every flag into the server's options", () => {
    expect(
      parseFakeProviderArgs([
        "--port",
        "0",
        "--api-key",
        "k",
        "--latency-ms",
        "5-30",
        "--fault-rate",
        "0.3",
        "--faults",
        "rate_limit:2,overloaded,server_error:503,drop",
        "--seed",
        "9",
        "--rpm",
        "50",
        "--itpm",
        "30000",
        "--otpm",
        "8000",
        "--billing-log",
        "bill.jsonl"
      ])
    ).toEqual({
      port: 0,
      apiKey: "k",
      latencyMs: { min: 5, max: 30 },
      faultRate: 0.3,
      faultKinds: [
        { kind: "rate_limit", retryAfterS: 2 },
        "overloaded",
        { kind: "server_error", status: 503 },
        "drop"
      ],
      seed: 9,
      limits: { requestsPerMinute: 50, inputTokensPerMinute: 30_000, outputTokensPerMinute: 8_000 },
      billingLog: "bill.jsonl"
    })
    expect(parseFakeProviderArgs([])).toEqual({ limits: {} })
  })

  it.each([
    [["--port", "70000"], `--port must be a port from 0 to 65535, got "70000"`],
    [["--fault-rate", "2"], `--fault-rate must be between 0 and 1, got "2"`],
    [["--rpm", "0"], `--rpm must be a whole number of at least 1, got "0"`],
    [["--latency-ms", "30-5"], `--latency-ms range "30-5" has its minimum above its maximum`],
    [["--faults", "flood"], `--faults: unknown fault "flood"`],
    [["--faults", "server_error:501"], `--faults: "server_error:501" takes no such parameter`],
    [["--nope"], "Unknown option '--nope'"],
    [["extra"], "usage: devmatrix fake-provider"]
  ])("refuses %j", (argv, message) => {
    expect(() => parseFakeProviderArgs(argv)).toThrow(message)
  })
})

describe("devmatrix fake-provider: the command", () => {
  it("prints ANTHROPIC_BASE_URL, answers the SDK there, and exits 0 on SIGTERM", async () => {
    const billingLog = join(mkdtempSync(join(tmpdir(), "fake-provider-")), "billing.jsonl")
    const child = spawn(process.execPath, [
      bin,
      "fake-provider",
      "--api-key",
      "secret",
      "--billing-log",
      billingLog
    ])
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve))
    let stdout = ""
    const baseUrl = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString()
        const match = /^ANTHROPIC_BASE_URL=(http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout)
        if (match) resolve(match[1]!)
      })
      child.on("exit", (code) => reject(new Error(`exited with ${code} before printing its URL`)))
    })
    try {
      const client = new Anthropic({ apiKey: "secret", baseURL: baseUrl, maxRetries: 0 })
      const message = await client.messages.create({
        model: "claude-haiku-4-5",
        max_tokens: 200,
        messages: [{ role: "user", content: atomPrompt("hello", ["hello"]) }]
      })
      expect(message.content[0]?.type === "text" ? message.content[0].text : "").toContain(
        "export function hello("
      )
      const stranger = new Anthropic({ apiKey: "other", baseURL: baseUrl, maxRetries: 0 })
      await expect(
        stranger.messages.create({
          model: "claude-haiku-4-5",
          max_tokens: 5,
          messages: [{ role: "user", content: "x" }]
        })
      ).rejects.toBeInstanceOf(AuthenticationError)
      expect(readFileSync(billingLog, "utf8").trimEnd().split("\n")).toHaveLength(1)
    } finally {
      child.kill("SIGTERM")
    }
    expect(await exited).toBe(0)
  })
})
