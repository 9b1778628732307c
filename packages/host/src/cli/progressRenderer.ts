import type { Event } from "@devmatrix/core"
import { applyEvent, initialProgress } from "./progressState.js"
import { renderProgress } from "./renderProgress.js"

/**
 * Live progress on a terminal: folds events into the progress state and redraws the block in place
 * at most every `intervalMs`, so a burst of events costs one frame.
 */
export const makeProgressRenderer = (
  out: NodeJS.WriteStream,
  options: { readonly budgetUsd?: number; readonly intervalMs?: number; readonly nowMs?: () => number }
) => {
  const state = initialProgress(options.budgetUsd)
  const now = options.nowMs ?? (() => Date.now())
  let drawn = 0
  let dirty = false
  const draw = () => {
    const lines = renderProgress(state, {
      width: out.columns || 100,
      color: out.hasColors?.() ?? false,
      nowMs: now()
    })
    // Move up over the previous frame and clear each line as it is rewritten.
    const up = drawn > 0 ? `\u001b[${drawn}F` : ""
    out.write(up + lines.map((line) => `\u001b[2K${line}`).join("\n") + "\n")
    drawn = lines.length
    dirty = false
  }
  const timer = setInterval(() => dirty && draw(), options.intervalMs ?? 100)
  timer.unref()
  return {
    onEvent(event: Event): void {
      applyEvent(state, event)
      dirty = true
    },
    stop(): void {
      clearInterval(timer)
      draw()
    }
  }
}
