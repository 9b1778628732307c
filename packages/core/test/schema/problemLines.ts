import { Either } from "effect"

/** The problems of an input, one `path: message` line each, as the CLI prints them. */
export const problems = (
  result: Either.Either<unknown, { readonly problems: ReadonlyArray<{ path: string; message: string }> }>
) =>
  Either.match(result, {
    onLeft: (error) => error.problems.map((p) => `${p.path || "(root)"}: ${p.message}`),
    onRight: () => []
  })
