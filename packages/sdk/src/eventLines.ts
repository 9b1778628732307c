import { Event, PlanInputError, problemsOf } from "@devmatrix/core"
import { Either, Schema } from "effect"

const decodeEvent = Schema.decodeUnknownEither(Event)

/**
 * Reads one line of `devmatrix run --json` (or `devmatrix events`) output as a typed `Event`,
 * validated by the same schema the engine journals with.
 */
export const decodeEventLine = (line: string): Either.Either<Event, PlanInputError> => {
  let json: unknown
  try {
    json = JSON.parse(line)
  } catch (error) {
    return Either.left(
      new PlanInputError({
        source: "event line",
        problems: [{ path: "", message: (error as Error).message }]
      })
    )
  }
  return Either.mapLeft(
    decodeEvent(json),
    (error) => new PlanInputError({ source: "event line", problems: problemsOf(error) })
  )
}
