/**
 * Rate limiting as push back, not failure, through the real engine: 3,000 independent atoms at a
 * limit of 40 against a provider whose capacity falls from 40 to 15 calls in flight mid-run. Above
 * its capacity the provider answers 429 with a `retry-after`, at once, as the real one does. Three
 * runs with the same retry policy, in the same process:
 *
 * - the engine as it is: a 429 sends the atom back through admission and uses up no retry;
 * - the engine with `maxThrottledMs: 1`, so that every 429 after the first counts as a failed
 *   attempt (how the engine treated 429s before push back);
 * - a plain FIFO promise pool with the same retry policy (the baseline the issue measured).
 *
 *   node --import tsx bench/pushback.ts        (writes bench/results/pushback.md)
 */
import { classifyModelFailure, RetryPolicy, retryDelayMs } from "@devmatrix/core"
import type { PlanInputEncoded, RunSummary } from "@devmatrix/core"
import { Engine, embeddedLayer, ModelCallError, ModelProvider } from "@devmatrix/runtime"
import type { ModelResponse } from "@devmatrix/runtime"
import { Clock, Effect, Layer } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { independentAtoms, smallAnswerUsage } from "./independentAtoms.js"
import { setTimeout as sleep } from "node:timers/promises"

const here = dirname(fileURLToPath(import.meta.url))
const atoms = Number(process.env.DEVMATRIX_PUSHBACK_ATOMS) || 3_000
const limit = 40
const capacityBefore = 40
const capacityAfter = 15
/** The capacity falls once this many calls were answered: a third of the way, for every run alike. */
const dropAfter = Math.floor(atoms / 3)
const retryAfterMs = 200
const retry = { maxRetries: 4, initialMs: 20, factor: 2, capMs: 1_000, jitter: 0.1 }

/** The provider's side: calls in flight, what it answered, and the capacity it has now. */
class SimulatedCapacity {
  inFlight = 0
  answered = 0
  refused = 0
  capacity(): number {
    return this.answered < dropAfter ? capacityBefore : capacityAfter
  }
  /** Takes the call if there is room: false is a 429. */
  enter(): boolean {
    if (this.inFlight >= this.capacity()) {
      this.refused++
      return false
    }
    this.inFlight++
    return true
  }
  leave(): void {
    this.inFlight--
    this.answered++
  }
}

/** 10-30 ms, deterministic per call. */
const latencyOf = (n: number): number => 10 + ((n * 7919) % 21)

const rateLimited = (nowMs: number) =>
  classifyModelFailure(
    {
      status: 429,
      errorType: "rate_limit_error",
      message: "rate limited: over the capacity",
      headers: { "retry-after-ms": String(retryAfterMs) }
    },
    nowMs
  )

const providerOf = (capacity: SimulatedCapacity) =>
  Layer.succeed(ModelProvider, {
    name: "capacity",
    generate: (request) =>
      Effect.flatMap(Clock.currentTimeMillis, (nowMs) => {
        if (!capacity.enter()) return Effect.fail(new ModelCallError({ failure: rateLimited(nowMs) }))
        const answer: ModelResponse = {
          text: `export const ${request.defines[0] ?? "x"} = 1\n`,
          model: request.model,
          usage: smallAnswerUsage,
          stopReason: "end_turn",
          confidence: 1
        }
        return Effect.as(Effect.sleep(latencyOf(capacity.answered + capacity.refused)), answer).pipe(
          Effect.ensuring(Effect.sync(() => capacity.leave()))
        )
      })
  })

const plan = (maxThrottledMs: number | undefined): PlanInputEncoded => ({
  name: "pushback",
  options: {
    concurrency: limit,
    promptCache: false,
    retry,
    ...(maxThrottledMs !== undefined ? { maxThrottledMs } : {})
  },
  atoms: independentAtoms(atoms)
})

interface Outcome {
  readonly name: string
  readonly completed: number
  readonly givenUp: number
  readonly calls: number
  readonly refused: number
  readonly ms: number
}

const engineRun = async (name: string, maxThrottledMs: number | undefined): Promise<Outcome> => {
  const capacity = new SimulatedCapacity()
  const started = performance.now()
  const summary: RunSummary = await Effect.runPromise(
    Effect.gen(function* () {
      const engine = yield* Engine
      const id = yield* engine.submit(plan(maxThrottledMs))
      return (yield* engine.result(id)).summary
    }).pipe(
      Effect.provide(embeddedLayer({ provider: providerOf(capacity), store: "memory:" })),
      Effect.scoped
    )
  )
  return {
    name,
    completed: summary.atoms.completed,
    givenUp: summary.atoms.failed,
    calls: capacity.answered + capacity.refused,
    refused: capacity.refused,
    ms: performance.now() - started
  }
}

/** A FIFO pool of `limit` workers, each retrying its atom with the same policy, honouring retry-after. */
const poolRun = async (): Promise<Outcome> => {
  const capacity = new SimulatedCapacity()
  const policy = RetryPolicy.make(retry)
  const started = performance.now()
  let next = 0
  let completed = 0
  let givenUp = 0
  const call = async (n: number): Promise<boolean> => {
    if (!capacity.enter()) return false
    await sleep(latencyOf(n))
    capacity.leave()
    return true
  }
  const worker = async () => {
    while (next < atoms) {
      const atom = next++
      for (let attempt = 1; ; attempt++) {
        if (await call(capacity.answered + capacity.refused)) {
          completed++
          break
        }
        if (attempt > policy.maxRetries) {
          givenUp++
          break
        }
        const failure = rateLimited(Date.now())
        await sleep(retryDelayMs(policy, { retry: attempt, failure, jitterKey: `a${atom}` }))
      }
    }
  }
  await Promise.all(Array.from({ length: limit }, worker))
  return {
    name: "FIFO promise pool, same retry policy",
    completed,
    givenUp,
    calls: capacity.answered + capacity.refused,
    refused: capacity.refused,
    ms: performance.now() - started
  }
}

const outcomes = [
  await engineRun("engine: 429 is push back (default)", undefined),
  await engineRun("engine: 429 counts as a failed attempt (maxThrottledMs 1)", 1),
  await poolRun()
]

const row = (o: Outcome) =>
  `| ${o.name} | ${o.completed} | ${o.givenUp} | ${o.calls} | ${o.refused} | ${((o.refused / o.calls) * 100).toFixed(1)}% | ${(o.ms / 1_000).toFixed(2)} | ${Math.round(o.completed / (o.ms / 1_000))} |`
const baseline = outcomes[2]!
const report = `# Rate limiting is push back, not failure (bench/pushback.ts)

${atoms.toLocaleString("en")} independent atoms, a limit of ${limit}, against a provider answering in 10-30 ms whose capacity
falls from ${capacityBefore} to ${capacityAfter} calls in flight once ${dropAfter.toLocaleString("en")} calls were answered; above it, an immediate 429 with
\`retry-after\` ${retryAfterMs} ms. Retry policy for all three: ${JSON.stringify(retry)}.
Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(2)}.

| run | completed | given up | calls | 429s | share of calls refused | seconds | atoms/s |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${outcomes.map(row).join("\n")}

With push back, ${outcomes[0]!.givenUp === 0 ? "no atom is given up" : `${outcomes[0]!.givenUp} atoms are given up`}; counting each 429 as a failed attempt gives up
${outcomes[1]!.givenUp}, and the plain pool ${baseline.givenUp}. Goodput against the pool: ${(outcomes[0]!.completed / outcomes[0]!.ms / (baseline.completed / baseline.ms)).toFixed(2)}x.
The limit here is static (${limit}): the 429s above the new capacity are what an adaptive limit removes.
`
mkdirSync(join(here, "results"), { recursive: true })
writeFileSync(join(here, "results", "pushback.md"), report)
process.stdout.write(report)
