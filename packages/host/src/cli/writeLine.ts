import { Effect } from "effect"

/** Waits until `stream`'s buffer has been taken by its reader ('drain'), or the stream has closed. */
export const untilDrained = (stream: NodeJS.WritableStream): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const done = () => {
      forget()
      resume(Effect.void)
    }
    const forget = () => {
      stream.off("drain", done)
      stream.off("close", done)
    }
    stream.once("drain", done)
    stream.once("close", done)
    return Effect.sync(forget)
  })

/**
 * Writes `text` to `stream`, then, if its buffer is full (`write` returned false), waits until the
 * reader has taken it. A slow reader (`devmatrix run --json | slow-tool`) so slows the writer
 * instead of filling memory: the journal in the store is the buffer. A reader that has gone is
 * noticed by `outputClosed`.
 */
export const writeLine = (stream: NodeJS.WritableStream, text: string): Effect.Effect<void> =>
  Effect.flatMap(
    Effect.sync(() => stream.write(text)),
    (room) => (room ? Effect.void : untilDrained(stream))
  )
