import { duration, paint, usd } from "./format.js"
import { longestWaitMs } from "./progressState.js"
import type { ProgressState, WaveProgress } from "./progressState.js"

/** Waves shown one per line; beyond this the pending and finished ones are summed up. */
const maxWaveLines = 12

const bar = (wave: WaveProgress, width: number): string => {
  const done = wave.completed + wave.failed + wave.skipped + wave.cancelled
  const filled = wave.size === 0 ? 0 : Math.round((done / wave.size) * width)
  return "█".repeat(filled) + "░".repeat(width - filled)
}

const waveLine = (wave: WaveProgress, color: boolean, barWidth: number): string => {
  const done = wave.completed + wave.failed + wave.skipped + wave.cancelled
  const counts = [
    paint(color, "green", `✓${wave.completed}`),
    wave.failed > 0 ? paint(color, "red", `✗${wave.failed}`) : "",
    wave.skipped > 0 ? paint(color, "yellow", `↷${wave.skipped}`) : "",
    wave.running > 0 ? `⟳${wave.running}` : ""
  ].filter(Boolean)
  // A wave's size is known once it starts; until then it is waiting, not "0/0".
  if (wave.status === "pending" && wave.size === 0)
    return `wave ${String(wave.index).padStart(3)} [${bar(wave, barWidth)}]  waiting`
  return `wave ${String(wave.index).padStart(3)} [${bar(wave, barWidth)}] ${String(done).padStart(5)}/${wave.size}  ${counts.join(" ")}`
}

/** Cuts a line to the terminal width, not counting ANSI color codes. */
const fit = (line: string, width: number): string => {
  let visible = 0
  let out = ""
  for (let i = 0; i < line.length; i++) {
    if (line[i] === "\u001b") {
      const end = line.indexOf("m", i)
      out += line.slice(i, end + 1)
      i = end
      continue
    }
    if (visible >= width) break
    out += line[i]
    visible++
  }
  return out
}

/** The live progress block: a header, then one bar per wave (collapsed when there are many). */
export const renderProgress = (
  state: ProgressState,
  options: { readonly width: number; readonly color: boolean; readonly nowMs: number }
): Array<string> => {
  const { color } = options
  const elapsed = state.startedAt === undefined ? 0 : options.nowMs - state.startedAt
  const settled = state.completed + state.failed + state.skipped + state.cancelled
  const spend =
    state.budgetUsd === undefined ? usd(state.costUsd) : `${usd(state.costUsd)} of ${usd(state.budgetUsd)}`
  const lines = [
    paint(
      color,
      "bold",
      `${state.name || "masterplan"}  ${state.outcome ?? state.phase}  ${duration(elapsed)}`
    ),
    `atoms ${settled}/${state.atomsTotal}  running ${state.running}  retrying ${state.retrying}  ` +
      `${paint(color && state.failed > 0, "red", `failed ${state.failed}`)}  skipped ${state.skipped}` +
      (state.review > 0 ? `  review ${state.review}` : "") +
      (state.throttled > 0 ? `  throttled ${state.throttled}` : "") +
      `  spend ${spend}  limit ${state.concurrencyLimit}` +
      (state.limitReason !== undefined ? ` (${state.limitReason})` : "") +
      (state.queuedAtoms.size > 0
        ? `  queued ${state.queuedAtoms.size} (longest ${duration(longestWaitMs(state, options.nowMs))})`
        : "")
  ]
  const barWidth = Math.max(10, Math.min(40, options.width - 50))
  let waves = state.waves
  if (waves.length > maxWaveLines) {
    const active = waves.filter((w) => w.status === "running")
    const finished = waves.filter((w) => w.status === "completed").length
    const pending = waves.filter((w) => w.status === "pending").length
    waves = active.slice(0, maxWaveLines)
    lines.push(
      paint(color, "dim", `${finished} waves completed, ${active.length} running, ${pending} pending`)
    )
  }
  for (const wave of waves) lines.push(waveLine(wave, color, barWidth))
  return lines.map((line) => fit(line, options.width))
}
