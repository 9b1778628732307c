/**
 * The limiter and the scheduler in virtual time, as issue 16 asks: a discrete-event simulation
 * (no sleeps, deterministic from its seeds) of a provider whose latency grows with load and which
 * answers 429 with `retry-after` and `anthropic-ratelimit-*` headers above its limits, driving
 * every policy through the same admission loop (`bench/scheduling/simulate.ts`).
 *
 *   pnpm bench:scheduling      (writes bench/results/scheduling.md)
 */
import { adaptiveLimiter, erasePolicyState, latencyAimdLimiter, staticLimiter } from "@devmatrix/core"
import type { AdaptiveLimiterSettings, LimiterPolicy } from "@devmatrix/core"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { simulate } from "./scheduling/simulate.js"
import type { SimResult, SimSpec } from "./scheduling/simulate.js"
import {
  cachedShare,
  independentAtoms,
  makespanLowerBound,
  randomDag,
  requestLimitedProvider,
  tokenAtoms,
  tokenLimitedProvider,
  unlimitedProvider
} from "./scheduling/workloads.js"

const here = dirname(fileURLToPath(import.meta.url))
const seed = Number(process.env["DEVMATRIX_BENCH_SEED"] ?? 16)

const pct = (x: number) => `${(100 * x).toFixed(1)}%`
const secs = (ms: number) => `${(ms / 1_000).toFixed(2)} s`
const row = (cells: ReadonlyArray<string | number>) => `| ${cells.join(" | ")} |`
const table = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>) =>
  [row(head), row(head.map(() => "---")), ...rows.map(row)].join("\n")
const met = (ok: boolean) => (ok ? "**met**" : "**not met**")

type AnyPolicy = LimiterPolicy<unknown>
const erase = erasePolicyState
const run = (spec: Omit<SimSpec<unknown>, "policy">, policy: AnyPolicy): SimResult =>
  simulate({ ...spec, policy })

const goodput = (result: SimResult) => result.completed / (result.makespanMs / 1_000)
const extra = (result: SimResult) => (result.attempts - result.completed) / result.completed

/** 1. Makespan of a 500-atom DAG at 32 permits, against max(critical path, work / 32); a deep and a wide shape. */
const makespan = () => {
  const shapes = [
    { name: "deep (dependencies among the 40 atoms before)", reach: 40 },
    { name: "wide (dependencies among the 200 atoms before)", reach: 200 }
  ]
  const cases = [
    ["eager, critical-path priority", "priority"],
    ["eager, FIFO", "fifo"],
    ["waves", "waves"]
  ] as const
  const rows: Array<ReadonlyArray<string>> = []
  const worst: Array<number> = []
  for (const shape of shapes) {
    const { graph, atoms } = randomDag(500, shape.reach, seed)
    const bound = makespanLowerBound(graph, atoms, 32)
    const base = {
      provider: unlimitedProvider,
      atoms,
      deps: graph.deps,
      dependents: graph.dependents,
      remaining: graph.remaining,
      waveOf: graph.waveOf
    }
    for (const [name, dispatch] of cases) {
      const result = run({ ...base, dispatch }, erase(staticLimiter(32)))
      const over = result.makespanMs / bound.boundMs - 1
      if (dispatch === "priority") worst.push(over)
      rows.push([
        shape.name,
        `${secs(bound.criticalPathMs)} / ${secs(bound.workMs)} (${graph.waves.length} waves)`,
        name,
        secs(result.makespanMs),
        pct(over)
      ])
    }
  }
  const ok = worst.every((over) => over <= 0.03)
  return {
    ok,
    text: [
      `## 1. Makespan: 500-atom random DAGs, log-normal work (median 1 s, sigma 0.5), 32 permits`,
      "",
      "A provider without limits answers each atom in exactly its work, so this measures the dispatch order alone. Priority is the plan's remaining path in atoms (`graph.remaining`), as the runtime's.",
      "",
      table(["DAG", "critical path / work over 32", "dispatch", "makespan", "over the bound"], rows),
      "",
      `Target (eager with critical-path priority within 3% of the lower bound): ${met(ok)} (${worst.map(pct).join(" and ")} over).`
    ].join("\n")
  }
}

/** 2. Hidden capacity 40, 2,000 atoms. */
const hiddenCapacity = () => {
  const atoms = independentAtoms(2_000, 200, seed + 2)
  const spec = (headers: boolean) => ({
    provider: requestLimitedProvider(40, headers),
    atoms,
    dispatch: "fifo" as const
  })
  const cases: ReadonlyArray<readonly [string, boolean, AnyPolicy]> = [
    ["adaptive (headers)", true, erase(adaptiveLimiter())],
    ["adaptive, provider without headers", false, erase(adaptiveLimiter())],
    ["static 10", true, erase(staticLimiter(10))],
    ["static 40 (oracle)", true, erase(staticLimiter(40))],
    ["static 100", true, erase(staticLimiter(100))],
    ["latency-only AIMD", true, erase(latencyAimdLimiter())]
  ]
  const results = cases.map(([name, headers, policy]) => ({ name, result: run(spec(headers), policy) }))
  const oracle = goodput(results[3]!.result)
  const adaptive = results[0]!.result
  const ok = goodput(adaptive) >= 0.95 * oracle && extra(adaptive) <= 0.05
  return {
    ok,
    text: [
      `## 2. Hidden capacity 40, 2,000 atoms`,
      "",
      `The provider sustains 40 calls in flight (work median 200 ms, sigma 0.3; latency x(1 + 0.25 x in flight / 40)); its requests-per-minute limit (${Math.round((requestLimitedProvider(40, true).capacity * 60_000) / (200 * Math.exp(0.045) * 1.25)).toLocaleString("en-US")}) is the rate of 40 such calls, its bucket holds 1 s of it, a 429 says \`retry-after\` in whole seconds (at least 1).`,
      "",
      table(
        [
          "policy",
          "goodput (atoms/s)",
          "of the oracle",
          "extra attempts",
          "429s",
          "makespan",
          "last limit",
          "most in flight",
          "limit changes"
        ],
        results.map(({ name, result }) => [
          name,
          goodput(result).toFixed(1),
          pct(goodput(result) / oracle),
          pct(extra(result)),
          result.rateLimited.length,
          secs(result.makespanMs),
          result.limits.at(-1)!.limit,
          result.maxInFlight,
          result.reasons.length
        ])
      ),
      "",
      `Target (adaptive >= 95% of the oracle's goodput, <= 5% extra attempts): ${met(ok)} (${pct(goodput(adaptive) / oracle)}, ${pct(extra(adaptive))}).`,
      "",
      `The adaptive limiter's changes: ${reasonsOf(adaptive)}`
    ].join("\n")
  }
}

const reasonsOf = (result: SimResult, most = 6) =>
  result.reasons.length === 0
    ? "none"
    : result.reasons
        .slice(0, most)
        .map(
          (reason, i) => `${result.limits[i + 1]!.limit} at ${secs(result.limits[i + 1]!.atMs)} ("${reason}")`
        )
        .join("; ") + (result.reasons.length > most ? `; ... ${result.reasons.length} in all` : "")

/** Time from `atMs` until the limit stays within +-20% of `capacity` up to `untilMs`; undefined when it never does. */
const settleMs = (result: SimResult, atMs: number, untilMs: number, capacity: number): number | undefined => {
  const within = (limit: number) => Math.abs(limit - capacity) <= 0.2 * capacity
  let current = result.limits[0]!.limit
  for (const point of result.limits) if (point.atMs <= atMs) current = point.limit
  let since: number | undefined = within(current) ? atMs : undefined
  for (const point of result.limits) {
    if (point.atMs <= atMs || point.atMs >= untilMs) continue
    if (within(point.limit)) since ??= point.atMs
    else since = undefined
  }
  return since === undefined ? undefined : since - atMs
}

/** 3. Capacity 40, then 15, then 60. */
const changingCapacity = () => {
  const atoms = independentAtoms(3_000, 200, seed + 3)
  const changes = [
    { atMs: 5_000, capacity: 15 },
    { atMs: 10_000, capacity: 60 }
  ]
  const spec = (headers: boolean, followsCapacity = false) => ({
    provider: requestLimitedProvider(40, headers),
    atoms,
    dispatch: "fifo" as const,
    capacityChanges: changes,
    followsCapacity
  })
  const cases: ReadonlyArray<readonly [string, ReturnType<typeof spec>, AnyPolicy]> = [
    ["adaptive (headers)", spec(true), erase(adaptiveLimiter())],
    ["adaptive, provider without headers", spec(false), erase(adaptiveLimiter())],
    ["oracle (pinned to the capacity)", spec(true, true), erase(staticLimiter(40))],
    ["static 40", spec(true), erase(staticLimiter(40))],
    ["latency-only AIMD", spec(true), erase(latencyAimdLimiter())]
  ]
  const results = cases.map(([name, s, policy]) => ({ name, result: run(s, policy) }))
  const oracle = goodput(results[2]!.result)
  const settles = (result: SimResult) =>
    changes.map((change, i) =>
      settleMs(result, change.atMs, changes[i + 1]?.atMs ?? result.lastStartMs, change.capacity)
    )
  const show = (ms: number | undefined) => (ms === undefined ? "never" : secs(ms))
  const adaptive = results[0]!.result
  const adaptiveSettles = settles(adaptive)
  const ok =
    goodput(adaptive) >= 0.9 * oracle &&
    extra(adaptive) <= 0.05 &&
    adaptiveSettles.every((ms) => ms !== undefined && ms <= 1_000)
  return {
    ok,
    text: [
      `## 3. Capacity 40, then 15 at 5 s, then 60 at 10 s; 3,000 atoms`,
      "",
      "Settled: the limit stays within +-20% of the new capacity from then until the next change (after the last start, with nothing left to admit, the limit no longer matters).",
      "",
      table(
        [
          "policy",
          "goodput (atoms/s)",
          "of the oracle",
          "extra attempts",
          "429s",
          "settled after 40->15",
          "after 15->60",
          "limit changes"
        ],
        results.map(({ name, result }) => {
          const [down, up] = settles(result)
          return [
            name,
            goodput(result).toFixed(1),
            pct(goodput(result) / oracle),
            pct(extra(result)),
            result.rateLimited.length,
            show(down),
            show(up),
            result.reasons.length
          ]
        })
      ),
      "",
      `Target (>= 90% of the oracle, settled within 1 s, <= 5% extra attempts): ${met(ok)} (${pct(goodput(adaptive) / oracle)}, settled ${adaptiveSettles.map(show).join(" and ")}, ${pct(extra(adaptive))}).`,
      "",
      `The adaptive limiter's changes: ${reasonsOf(adaptive, 10)}`
    ].join("\n")
  }
}

/** 4. Input and output tokens per minute, with cached prefixes. */
const tokenLimits = () => {
  const size = 1_500
  const atoms = tokenAtoms(size, seed + 4, false)
  const blind = tokenAtoms(size, seed + 4, true)
  const planBuckets: AdaptiveLimiterSettings["buckets"] = {
    inputTokensPerMinute: 400_000,
    outputTokensPerMinute: 80_000
  }
  const cases: ReadonlyArray<readonly [string, boolean, typeof atoms, AnyPolicy]> = [
    ["adaptive (headers, cache reads excluded)", true, atoms, erase(adaptiveLimiter())],
    ["adaptive counting cached input too", true, blind, erase(adaptiveLimiter())],
    [
      "adaptive, no headers, plan-set buckets",
      false,
      atoms,
      erase(adaptiveLimiter({ buckets: planBuckets }))
    ],
    ["the same, counting cached input too", false, blind, erase(adaptiveLimiter({ buckets: planBuckets }))],
    ["static 40", true, atoms, erase(staticLimiter(40))],
    ["latency-only AIMD", true, atoms, erase(latencyAimdLimiter())]
  ]
  const firstWindowMs = 60_000
  const results = cases.map(([name, headers, a, policy]) => {
    const result = run({ provider: tokenLimitedProvider(headers), atoms: a, dispatch: "fifo" }, policy)
    const spanMs = result.lastStartMs - firstWindowMs
    const after = result.counted.filter((c) => c.atMs >= firstWindowMs && c.atMs <= result.lastStartMs)
    const perMinute = (sum: number) => (spanMs > 0 ? (sum * 60_000) / spanMs : 0)
    const until = result.counted.filter((c) => c.atMs <= result.lastStartMs)
    // The most input any policy gets counted by the last start: a full bucket, then its refill.
    const allowed = 400_000 + (400_000 * result.lastStartMs) / 60_000
    return {
      ofAllowed: until.reduce((s, c) => s + c.input, 0) / allowed,
      name,
      result,
      late429: result.rateLimited.filter((at) => at >= firstWindowMs).length,
      input: perMinute(after.reduce((s, c) => s + c.input, 0)),
      output: perMinute(after.reduce((s, c) => s + c.output, 0))
    }
  })
  const adaptive = results[0]!
  const ok = adaptive.late429 === 0 && adaptive.ofAllowed >= 0.9
  return {
    ok,
    text: [
      `## 4. Tokens: 400,000 input and 80,000 output tokens per minute, ${pct(cachedShare)} of the atoms with a cached 4,000-token prefix; ${size.toLocaleString("en-US")} atoms`,
      "",
      "Buckets hold a full minute, as the fake's do, and start full. Throughput: the provider-counted input tokens up to the last start (the queue is never empty before it) against the most the bucket allows in that time (its 400,000, then 400,000 a minute); and tokens per minute from the end of the first minute to the last start (above the limit while the first minute's full bucket is still being spent).",
      "",
      table(
        [
          "policy",
          "input counted, of the most allowed",
          "input tokens/min after the first minute",
          "output tokens/min",
          "429s",
          "429s after the first minute",
          "extra attempts",
          "makespan"
        ],
        results.map((r) => [
          r.name,
          pct(r.ofAllowed),
          Math.round(r.input).toLocaleString("en-US"),
          Math.round(r.output).toLocaleString("en-US"),
          r.result.rateLimited.length,
          r.late429,
          pct(extra(r.result)),
          secs(r.result.makespanMs)
        ])
      ),
      "",
      `Target (no 429s after the first minute, input throughput >= 90% of the limit): ${met(ok)} (${adaptive.late429} late 429s, ${pct(adaptive.ofAllowed)} of the most allowed).`,
      "",
      `The adaptive limiter's changes: ${reasonsOf(adaptive.result)}`
    ].join("\n")
  }
}

const notes = `## What the figures say, and what they do not

- The simulated provider is a model: buckets that hold 1 s of their per-minute rate (workloads 2-3)
  or a full minute (workload 4, as \`packages/host/src/fakeAnthropic/rateLimiter.ts\`), latency
  stretched by load, \`retry-after\` in whole seconds. The real API's burst size is not published.
- The adaptive limiter is told nothing of the capacity: it reads the headers every answer carries,
  as the real provider's do. It passes the oracle's goodput in workloads 2-3 because it also spends
  the provider's initial full bucket; static 40 is the oracle for the permits, not for the bucket.
- Every adaptive run begins with slow start: 20 calls in flight, doubled each time as many have
  been answered, up to the initial 100, until an answer says more (the first headers set the
  limit they imply at once; a 429 ends the ramp where it is). So a provider whose capacity is
  unknown is not sent 100 calls at once: workload 4 meets no 429 in its first second any more (100
  calls x 1,024 \`max_tokens\` were more than the 80,000 output tokens a minute), and the
  acceleration limit of the real API asks for such a ramp.
- Without headers it falls back to AIMD with DESIGN.md's defaults (+5 per 3 healthy windows, x0.75,
  10 s cooldown), except that a limit in full use (90% of it in flight) through healthy windows
  does not wait for the cooldown to grow: nothing else tells a limiter without headers that the
  capacity rose. In workload 3 it climbs back at once after 15 -> 60 and keeps the oracle's
  goodput; it then probes above the capacity until a 429 shrinks it, so its limit never stays
  within +-20% ("never" settled) while what it gets done follows the oracle. Each 429 without
  headers holds every start for its \`retry-after\` (at least 1 s here): a drop 40 -> 15 costs a
  few of those holds, at x0.75 each, where the headers say it in one answer.
- The latency-only AIMD (Netflix's shape) keeps goodput up by retrying 429s at once: its extra
  attempts are the price, and a real provider's \`retry-after\` would make each one a wait.
- Counting cached input as input costs nothing while the headers resync the mirror; with buckets
  from the plan's options and no headers it leaves most of the input limit unused.`

const sections = [makespan(), hiddenCapacity(), changingCapacity(), tokenLimits()]
const report = [
  "# Scheduling: the adaptive limiter against its baselines",
  "",
  `Written by \`pnpm bench:scheduling\` (\`bench/scheduling.ts\`): one deterministic run in virtual time, seed ${seed}. Each policy goes through the same admission loop: at most \`limitOf\` calls in flight, a start only when \`waitMs\` is 0, \`reserve\` at the start, \`refund\` then \`observe\` at the end, and a 429 puts the atom back in the queue (it is an extra attempt, never a failure).`,
  "",
  `Targets met: ${sections.filter((s) => s.ok).length} of ${sections.length}.`,
  "",
  ...sections.flatMap((s) => [s.text, ""]),
  notes,
  ""
].join("\n")
mkdirSync(join(here, "results"), { recursive: true })
writeFileSync(join(here, "results", "scheduling.md"), report)
process.stdout.write(report)
