import type { Event } from "@devmatrix/core"
import { expect } from "vitest"

/** A plan's atoms as the invariants need them. */
export interface AtomDeps {
  readonly id: string
  readonly dependsOn?: ReadonlyArray<string>
}

const terminalAtomEvents = new Set(["atom.completed", "atom.failed", "atom.skipped", "atom.cancelled"])
/** Events that end an attempt that held a permit (interrupted: its process stopped). */
const attemptEnds = new Set([
  "atom.retrying",
  "atom.throttled",
  "atom.review",
  "atom.completed",
  "atom.failed",
  "atom.cancelled",
  "atom.interrupted"
])

/**
 * What every run must respect, read from its journal alone: a gap-free seq, one terminal event per
 * atom, no atom started before all its dependencies completed, never more atoms running than the
 * limit, in `waves` mode no atom started before the previous wave completed, and the terminal
 * event last.
 */
export const expectRunInvariants = (
  events: ReadonlyArray<Event>,
  atoms: ReadonlyArray<AtomDeps>,
  options: { readonly concurrency: number; readonly mode: "eager" | "waves" }
) => {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
  const last = events.at(-1)
  expect(last?.type).toMatch(/^masterplan\.(completed|failed|cancelled)$/)
  const deps = new Map(atoms.map((atom) => [atom.id, atom.dependsOn ?? []]))
  const completed = new Set<string>()
  const terminal = new Map<string, number>()
  const running = new Set<string>()
  const completedWaves = new Set<number>()
  let peak = 0
  for (const event of events) {
    if (event.type === "wave.completed") completedWaves.add(event.wave)
    if (!event.type.startsWith("atom.") || !("atomId" in event) || event.atomId === undefined) continue
    const atomId = event.atomId
    if (event.type === "atom.started") {
      for (const dep of deps.get(atomId) ?? [])
        expect(completed, `${atomId} started before ${dep} completed`).toContain(dep)
      if (options.mode === "waves" && event.wave > 0)
        expect(completedWaves, `${atomId} started before wave ${event.wave - 1} completed`).toContain(
          event.wave - 1
        )
      expect(running.has(atomId), `${atomId} started twice at once`).toBe(false)
      running.add(atomId)
      peak = Math.max(peak, running.size)
      expect(running.size, `running atoms exceed the limit at seq ${event.seq}`).toBeLessThanOrEqual(
        options.concurrency
      )
    }
    if (attemptEnds.has(event.type)) running.delete(atomId)
    if (event.type === "atom.completed") completed.add(atomId)
    if (terminalAtomEvents.has(event.type)) terminal.set(atomId, (terminal.get(atomId) ?? 0) + 1)
  }
  for (const [atomId, count] of terminal) expect(count, `${atomId} ended ${count} times`).toBe(1)
  if (last?.type !== "masterplan.cancelled") expect(terminal.size).toBe(atoms.length)
  return { peak, completed }
}
