import { costBreakdown } from "@devmatrix/core"
import type { AtomFailure, CostCommit, EventBody, ModelPrice, RunSummary, WaveCounts } from "@devmatrix/core"
import type { AtomRow } from "../Store.js"

/** The first failures a summary names; the journal has them all. */
const maxFailuresListed = 20

/** Counts a plan's events into its summary as they happen, so the summary costs nothing to build. */
export class SummaryTally {
  costUsd = 0
  private completed = 0
  private failed = 0
  private skipped = 0
  private cancelled = 0
  private blocked = 0
  private review = 0
  private calls = 0
  private retries = 0
  private repeatedCalls = 0
  private throttled = 0
  private inputTokens = 0
  private outputTokens = 0
  private cacheHits = 0
  private cacheSavedUsd = 0
  private cacheWriteTokens = 0
  private cacheReadTokens = 0
  private reservedUsd = 0
  private readonly costByKind = { input: 0, output: 0, cacheWrite: 0, cacheRead: 0 }
  private readonly costByWave: Record<string, number> = Object.create(null) as Record<
    string,
    number
  > /** Without a prototype: a model is any name, `__proto__` or `constructor` included. */
  private readonly costByModel: Record<string, number> = Object.create(null) as Record<string, number>
  private readonly failures: Array<AtomFailure> = []
  /** Atoms that ended in an earlier process, per wave (a recovered plan). */
  private readonly restoredWaves = new Map<number, WaveCounts>()

  constructor(
    private readonly total: number,
    private readonly waves: number,
    /** What the summary needs to know of the plan: an atom's wave, a model's prices. */
    private readonly lookup: {
      readonly waveOf: (atomId: string) => number | undefined
      readonly priceOf: (model: string) => ModelPrice | undefined
    } = { waveOf: () => undefined, priceOf: () => undefined }
  ) {}

  /** Spend by wave and by token kind, for one paid call. */
  private paid(cost: {
    readonly atomId: string
    readonly model: string
    readonly costUsd: number
    readonly inputTokens: number
    readonly outputTokens: number
    readonly cacheWriteTokens?: number | undefined
    readonly cacheReadTokens?: number | undefined
  }): void {
    this.costUsd += cost.costUsd
    this.inputTokens += cost.inputTokens
    this.outputTokens += cost.outputTokens
    this.cacheWriteTokens += cost.cacheWriteTokens ?? 0
    this.cacheReadTokens += cost.cacheReadTokens ?? 0
    this.costByModel[cost.model] = (this.costByModel[cost.model] ?? 0) + cost.costUsd
    const wave = this.lookup.waveOf(cost.atomId)
    if (wave !== undefined) this.costByWave[wave] = (this.costByWave[wave] ?? 0) + cost.costUsd
    const price = this.lookup.priceOf(cost.model)
    if (price === undefined) return
    // The journal keeps cache writes as one count: by kind, they are priced as 5-minute writes.
    const parts = costBreakdown(price, {
      inputTokens: cost.inputTokens,
      outputTokens: cost.outputTokens,
      cacheWriteTokens: cost.cacheWriteTokens ?? 0,
      cacheReadTokens: cost.cacheReadTokens ?? 0
    })
    this.costByKind.input += parts.input
    this.costByKind.output += parts.output
    this.costByKind.cacheWrite += parts.cacheWrite5m + parts.cacheWrite1h
    this.costByKind.cacheRead += parts.cacheRead
  }

  add(event: EventBody): void {
    switch (event.type) {
      case "atom.started":
        this.calls++
        return
      case "atom.retrying":
        this.retries++
        return
      case "atom.interrupted":
        this.repeatedCalls++
        return
      case "atom.throttled":
        this.throttled++
        return
      case "atom.review":
        this.review++
        return
      case "atom.blocked":
        this.blocked++
        return
      case "atom.completed":
        this.completed++
        if (event.acceptedBy === "review") this.review--
        return
      case "atom.failed":
        this.failed++
        if (event.reason === "rejected") this.review--
        if (this.failures.length < maxFailuresListed)
          this.failures.push({
            atomId: event.atomId,
            wave: event.wave,
            reason: event.reason,
            error: event.error
          })
        return
      case "atom.skipped":
        this.skipped++
        return
      case "atom.cancelled":
        this.cancelled++
        return
      case "cost.updated":
        this.paid(event)
        this.reservedUsd += event.reservedUsd ?? 0
        return
      case "cache.hit":
        this.cacheHits++
        this.cacheSavedUsd += event.savedUsd ?? 0
        return
      default:
        return
    }
  }

  /**
   * Starts from where an earlier process left the plan: its settled atoms, its paid calls, and its
   * journal's counts of calls made (`atom.started`, failed ones too), retries and cache hits.
   */
  restore(
    atoms: ReadonlyArray<AtomRow>,
    costs: ReadonlyArray<CostCommit>,
    eventCounts: Readonly<Record<string, number>>
  ): void {
    this.calls = eventCounts["atom.started"] ?? 0
    this.retries = eventCounts["atom.retrying"] ?? 0
    this.repeatedCalls = eventCounts["atom.interrupted"] ?? 0
    this.throttled = eventCounts["atom.throttled"] ?? 0
    this.cacheHits = eventCounts["cache.hit"] ?? 0
    for (const row of atoms) {
      if (
        row.status !== "completed" &&
        row.status !== "failed" &&
        row.status !== "skipped" &&
        row.status !== "cancelled"
      )
        continue
      this[row.status]++
      const wave = this.restoredWaves.get(row.wave) ?? { completed: 0, failed: 0, skipped: 0, cancelled: 0 }
      this.restoredWaves.set(row.wave, { ...wave, [row.status]: wave[row.status] + 1 })
      if (row.status === "failed" && this.failures.length < maxFailuresListed) {
        const [reason = "unknown", ...rest] = (row.error ?? "").split(": ")
        this.failures.push({ atomId: row.atomId, wave: row.wave, reason, error: rest.join(": ") })
      }
    }
    for (const cost of costs) this.paid(cost)
  }

  /** How many atoms of a wave had ended before this process took the plan over. */
  waveCounts(wave: number): WaveCounts | undefined {
    return this.restoredWaves.get(wave)
  }

  /** Atoms that never started count as cancelled when the plan is. */
  cancelUnstarted(count: number): void {
    this.cancelled += count
  }

  summary(durationMs: number): RunSummary {
    return {
      outcome: "completed",
      atoms: {
        total: this.total,
        completed: this.completed,
        failed: this.failed,
        skipped: this.skipped,
        cancelled: this.cancelled,
        blocked: this.blocked,
        review: this.review
      },
      waves: this.waves,
      // An answer from the prompt cache starts an attempt but makes no call.
      calls: this.calls - this.cacheHits,
      retries: this.retries,
      repeatedCalls: this.repeatedCalls,
      throttled: this.throttled,
      costUsd: this.costUsd,
      costByModel: Object.fromEntries(Object.entries(this.costByModel)),
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      cacheHits: this.cacheHits,
      cacheSavedUsd: this.cacheSavedUsd,
      cacheWriteTokens: this.cacheWriteTokens,
      cacheReadTokens: this.cacheReadTokens,
      costByWave: Object.fromEntries(Object.entries(this.costByWave)),
      costByTokenKind: { ...this.costByKind },
      reservedUsd: this.reservedUsd,
      durationMs,
      failures: [...this.failures]
    }
  }
}
