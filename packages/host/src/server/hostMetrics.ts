import type { Event } from "@devmatrix/core"
import { Counter, Gauge, Histogram, Registry } from "prom-client"

/** A model's limit as the engine reports it (`Engine.limits`). */
export interface LimitReading {
  readonly model: string
  readonly limit: number
  readonly inFlight: number
  readonly waiting: number
}

/**
 * The host's Prometheus metrics, in their own registry (a process embedding the host keeps its
 * own). Everything about plans is counted from the events the host's plan readers see, so the
 * counters are the journal's, event for event, since the host started.
 */
export class HostMetrics {
  readonly registry = new Registry()
  private readonly events = new Counter({
    name: "devmatrix_events_total",
    help: "Events journaled by the plans this host runs, by type.",
    labelNames: ["type"] as const,
    registers: [this.registry]
  })
  private readonly atoms = new Counter({
    name: "devmatrix_atoms_total",
    help: "Atoms that ended, by how they ended (completed, failed, skipped, cancelled).",
    labelNames: ["status"] as const,
    registers: [this.registry]
  })
  private readonly callSeconds = new Histogram({
    name: "devmatrix_model_call_duration_seconds",
    help: "Model calls from start to end (answer, failure or push back), by model.",
    labelNames: ["model"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry]
  })
  private readonly tokens = new Counter({
    name: "devmatrix_tokens_total",
    help: "Tokens billed, by kind (input, output, cache_write, cache_read).",
    labelNames: ["kind"] as const,
    registers: [this.registry]
  })
  private readonly spend = new Counter({
    name: "devmatrix_spend_usd_total",
    help: "What the model calls cost, in US dollars.",
    registers: [this.registry]
  })
  private readonly retries = new Counter({
    name: "devmatrix_retries_total",
    help: "Attempts retried after a failure, by failure class.",
    labelNames: ["reason"] as const,
    registers: [this.registry]
  })
  private readonly throttled = new Counter({
    name: "devmatrix_throttled_total",
    help: "Attempts the provider pushed back (429, 529), by class: not failures, nothing billed.",
    labelNames: ["reason"] as const,
    registers: [this.registry]
  })
  private readonly clients = new Gauge({
    name: "devmatrix_connected_clients",
    help: "WebSocket connections open now.",
    registers: [this.registry]
  })
  private readonly slowConsumers = new Counter({
    name: "devmatrix_slow_consumers_dropped_total",
    help: "Connections closed because they read too slowly (their send buffer filled).",
    registers: [this.registry]
  })
  private readonly refusedFrames = new Counter({
    name: "devmatrix_refused_frames_total",
    help: "Frames and commands refused with an error reply, by error code.",
    labelNames: ["code"] as const,
    registers: [this.registry]
  })
  /** When each atom's call under way started (epoch ms), by plan and atom; its plan's model. */
  private readonly callsUnderWay = new Map<string, number>()
  private readonly modelOf = new Map<string, string>()

  constructor(limits: () => ReadonlyArray<LimitReading>) {
    const reading = (name: string, help: string, value: (limit: LimitReading) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["model"] as const,
        registers: [this.registry],
        collect() {
          this.reset()
          for (const limit of limits()) this.set({ model: limit.model }, value(limit))
        }
      })
    reading("devmatrix_concurrency_limit", "The model's current limit of calls in flight.", (l) => l.limit)
    reading("devmatrix_calls_in_flight", "Calls in flight to the model now.", (l) => l.inFlight)
    reading("devmatrix_queue_depth", "Atoms waiting for admission to the model.", (l) => l.waiting)
  }

  /** Counts one journaled event (each once: the host's one reader per plan calls this). */
  observe(event: Event): void {
    this.events.inc({ type: event.type })
    const key =
      "atomId" in event && event.atomId !== undefined ? `${event.masterplanId}\u0000${event.atomId}` : ""
    switch (event.type) {
      case "masterplan.submitted":
        this.modelOf.set(event.masterplanId, event.model)
        break
      case "atom.started":
        this.callsUnderWay.set(key, event.at)
        break
      case "atom.completed":
      case "atom.failed":
      case "atom.retrying":
      case "atom.throttled":
      case "atom.review":
      case "atom.interrupted":
        this.callEnded(key, event)
        if (event.type === "atom.completed" || event.type === "atom.failed")
          this.atoms.inc({ status: event.type === "atom.completed" ? "completed" : "failed" })
        if (event.type === "atom.retrying") this.retries.inc({ reason: event.reason })
        if (event.type === "atom.throttled") this.throttled.inc({ reason: event.reason })
        break
      case "atom.skipped":
        this.atoms.inc({ status: "skipped" })
        break
      case "atom.cancelled":
        this.callsUnderWay.delete(key)
        this.atoms.inc({ status: "cancelled" })
        break
      case "cost.updated":
        this.spend.inc(event.costUsd)
        this.tokens.inc({ kind: "input" }, event.inputTokens)
        this.tokens.inc({ kind: "output" }, event.outputTokens)
        this.tokens.inc({ kind: "cache_write" }, event.cacheWriteTokens ?? 0)
        this.tokens.inc({ kind: "cache_read" }, event.cacheReadTokens ?? 0)
        break
      case "masterplan.completed":
      case "masterplan.failed":
      case "masterplan.cancelled":
        this.modelOf.delete(event.masterplanId)
        break
      default:
        // Counted by type above; nothing else to measure.
        break
    }
  }

  private callEnded(key: string, event: Event & { readonly masterplanId: string }): void {
    const startedAt = this.callsUnderWay.get(key)
    if (startedAt === undefined) return
    this.callsUnderWay.delete(key)
    const model =
      event.type === "atom.completed" ? event.model : (this.modelOf.get(event.masterplanId) ?? "unknown")
    this.callSeconds.observe({ model }, Math.max(0, event.at - startedAt) / 1000)
  }

  connected(): void {
    this.clients.inc()
  }

  disconnected(): void {
    this.clients.dec()
  }

  droppedSlowConsumer(): void {
    this.slowConsumers.inc()
  }

  refused(code: string): void {
    this.refusedFrames.inc({ code })
  }

  /** The metrics in Prometheus' text format, and its content type. */
  async exposition(): Promise<{ readonly body: string; readonly contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType }
  }
}
