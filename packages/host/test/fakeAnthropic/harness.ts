import { startFakeAnthropic } from "@devmatrix/host"
import type { FakeAnthropic, FakeAnthropicOptions } from "@devmatrix/host"
import { afterEach } from "vitest"
import { Anthropic } from "./anthropicSdk.js"

const servers: Array<FakeAnthropic> = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

/** A fake server closed after the test, and a real SDK client on it with the SDK's retries off. */
export const serve = async (options: FakeAnthropicOptions = {}, clientOptions: { timeout?: number } = {}) => {
  const server = await startFakeAnthropic(options)
  servers.push(server)
  const client = new Anthropic({
    apiKey: options.apiKey ?? "test-key",
    baseURL: server.url,
    maxRetries: 0,
    ...clientOptions
  })
  return { server, client }
}

/** The rejection of a promise that must reject (the test fails if it resolves). */
export const rejectionOf = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error("expected the call to fail, and it succeeded")
}

/** A user turn in the contract's prompt format. */
export const atomPrompt = (atomId: string, defines: ReadonlyArray<string> = [], language = "typescript") =>
  [
    `Atom: ${atomId}`,
    `Language: ${language}`,
    ...(defines.length > 0 ? [`Define: ${defines.join(", ")}`] : [])
  ].join("\n")
