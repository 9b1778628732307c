import { costBreakdownNanos, defaultPriceTable, findModelPrice } from "@devmatrix/core"
import type { Event, PlanInputEncoded, RunOptionsInput } from "@devmatrix/core"
import { startFakeAnthropic } from "@devmatrix/host"
import type { BilledCall, FakeAnthropic, FakeAnthropicOptions, LoggedRequest } from "@devmatrix/host"
import { Engine, embeddedLayer } from "@devmatrix/runtime"
import type { EmbeddedOptions, EngineService } from "@devmatrix/runtime"
import { Chunk, Effect, Stream } from "effect"
import { afterEach } from "vitest"

// The engine against the local Messages API: the real SDK over real HTTP to `startFakeAnthropic`,
// the real engine on a memory store. Helpers for `providerEngine.test.ts`.

/** The model the plans name: a current Claude model the price table and the fake server both know. */
export const model = "claude-sonnet-5-5"

const servers: Array<FakeAnthropic> = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

/**
 * A fake Messages API that knows the price table's models (the fake's own defaults are older ones),
 * closed after the test.
 */
export const serve = async (options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> => {
  const server = await startFakeAnthropic({ models: defaultPriceTable.models, ...options })
  servers.push(server)
  return server
}

/** Run options for tests: the Claude model, fast retries, no reviews (the provider's confidence is scored). */
export const fastOptions = (overrides: Partial<RunOptionsInput> = {}): Partial<RunOptionsInput> => ({
  model,
  concurrency: 20,
  reviewThreshold: 0,
  promptCache: false,
  callTimeoutMs: 10_000,
  ...overrides,
  retry: { initialMs: 50, factor: 2, capMs: 200, jitter: 0, maxRetries: 8, ...overrides.retry }
})

export interface PlanAtom {
  readonly id: string
  readonly dependsOn: ReadonlyArray<string>
  readonly instruction: string
  readonly defines: ReadonlyArray<string>
}

/**
 * A layered plan of `count` atoms, `width` per layer: each atom past the first layer depends on one
 * or two atoms of the layer before (so a failure has dependents), each defines one name.
 */
export const layeredAtoms = (
  count: number,
  width: number,
  instructionOf: (id: string) => string = (id) => `implement ${id}`
): Array<PlanAtom> =>
  Array.from({ length: count }, (_, index) => {
    const id = `a${index}`
    const layer = Math.floor(index / width)
    const position = index % width
    const dependsOn =
      layer === 0
        ? []
        : index % 3 === 0
          ? [`a${(layer - 1) * width + position}`, `a${(layer - 1) * width + ((position + 1) % width)}`]
          : index % 3 === 1
            ? [`a${(layer - 1) * width + position}`]
            : []
    return { id, dependsOn, instruction: instructionOf(id), defines: [`fn_${id}`] }
  })

export const planOf = (
  atoms: ReadonlyArray<PlanAtom>,
  options: Partial<RunOptionsInput> = fastOptions(),
  name = "provider-engine"
): PlanInputEncoded => ({ name, options, atoms }) as unknown as PlanInputEncoded

/** The engine whose Claude models go through `server` (no prompt cache unless asked). */
export const engineLayer = (server: FakeAnthropic, options: Partial<EmbeddedOptions> = {}) =>
  embeddedLayer({
    store: "memory:",
    anthropic: { baseURL: server.url, apiKey: "test-key" },
    promptCache: { disabled: true },
    ...options
  })

/** The journal of a plan this engine runs or ran, up to its terminal event. */
export const journalOf = (engine: EngineService, id: string) =>
  Effect.map(Stream.runCollect(engine.events(id)), (events) => Chunk.toArray(events))

/** Submits a plan and waits for its end: its id, its journal and its terminal event. */
export const runToEnd = (plan: PlanInputEncoded) =>
  Effect.gen(function* () {
    const engine = yield* Engine
    const id = yield* engine.submit(plan)
    const end = yield* engine.result(id)
    const events = yield* journalOf(engine, id)
    return { id, end, events }
  })

export const ofType = <T extends Event["type"]>(events: ReadonlyArray<Event>, type: T) =>
  events.filter((e): e is Extract<Event, { type: T }> => e.type === type)

/** The atom of a `x-devmatrix-call` id (`<masterplanId>/<atomId>/<attempt>`). */
export const atomOfCall = (callId: string | null): string | undefined => callId?.split("/").at(-2)

/** The attempt of a `x-devmatrix-call` id. */
export const attemptOfCall = (callId: string | null): number | undefined => {
  const last = callId?.split("/").at(-1)
  return last === undefined ? undefined : Number(last)
}

/** The server's requests of one plan. */
export const requestsOf = (server: FakeAnthropic, id: string): Array<LoggedRequest> =>
  server.requests().filter((request) => request.callId?.startsWith(`${id}/`) === true)

/** The server's billed calls of one plan. */
export const billedOf = (server: FakeAnthropic, id: string): Array<BilledCall> =>
  server.billed().filter((call) => call.callId?.startsWith(`${id}/`) === true)

/**
 * What the server billed, priced independently of the engine: each call's usage as the API sent it,
 * by token kind, at the price table's rates, in whole nano-dollars; in total and by model.
 */
export const billedNanos = (calls: ReadonlyArray<BilledCall>) => {
  const byModel: Record<string, number> = {}
  let total = 0
  for (const call of calls) {
    const price = findModelPrice(defaultPriceTable, call.model)
    if (price === undefined) throw new Error(`no price for ${call.model}`)
    const nanos = costBreakdownNanos(price, {
      inputTokens: call.usage.input_tokens,
      outputTokens: call.usage.output_tokens,
      cacheWriteTokens: call.usage.cache_creation_input_tokens,
      cacheWrite5mTokens: call.usage.cache_creation.ephemeral_5m_input_tokens,
      cacheWrite1hTokens: call.usage.cache_creation.ephemeral_1h_input_tokens,
      cacheReadTokens: call.usage.cache_read_input_tokens
    }).total
    byModel[call.model] = (byModel[call.model] ?? 0) + nanos
    total += nanos
  }
  return { total, byModel }
}

/** Resolves after `ms` of real time: to check that something does NOT happen within it. */
export const realSleep = (ms: number) =>
  Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))
