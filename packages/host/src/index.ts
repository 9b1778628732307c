/**
 * The standalone DevMatrix process: the `devmatrix` command line.
 *
 * @example
 * import { main } from "@devmatrix/host"
 * process.exitCode = await main(["run", "examples/plans/todo-api.json", "--json"])
 */
export { main } from "./main.js"
export { ExitCode } from "./cli/exitCodes.js"
export {
  startFakeAnthropic,
  type FakeAnthropic,
  type FakeAnthropicOptions,
  type LoggedRequest
} from "./fakeAnthropic/fakeAnthropic.js"
export type { BilledCall, MessageUsage } from "./fakeAnthropic/billingLog.js"
export { defaultFakeModels, type FakeModel } from "./fakeAnthropic/fakeModels.js"
export { faultKinds, type Fault, type FaultKind } from "./fakeAnthropic/faults.js"
export type { Message, MessagesRequest, TextBlock, CacheTtl } from "./fakeAnthropic/messagesRequest.js"
export { defaultRateLimits, type RateLimits } from "./fakeAnthropic/rateLimiter.js"
export { defaultResponder, type FakeReply, type Responder } from "./fakeAnthropic/responder.js"
export { tokensOf } from "./fakeAnthropic/tokenizer.js"
export { startHost, type HostHandle, type HostOptions } from "./server/hostServer.js"
export { defaultConnectionLimits, type ConnectionLimits } from "./server/connection.js"
export {
  loadTokens,
  parseTokens,
  tokenTable,
  TokenEntry,
  TokensError,
  TokensFile,
  type TokenTable
} from "./server/tokens.js"
