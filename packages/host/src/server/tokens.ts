import { decodeInput, Id, Role } from "@devmatrix/core"
import type { Principal } from "@devmatrix/core"
import { Data, Effect, Either, Schema } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { readFile } from "node:fs/promises"

/** The shortest token a host accepts: a guessable token is no token. */
export const minTokenLength = 16

/** One token of a tokens file: who holds it, for which tenant, with which role. */
export const TokenEntry = Schema.Struct({
  token: Schema.String.pipe(
    Schema.minLength(minTokenLength, { message: () => `must be at least ${minTokenLength} characters long` })
  ),
  /** The tenant whose plans the token sees; a tenant never sees another's. */
  tenant: Id,
  role: Role,
  /** Who holds it, as the audit trail names them. */
  principal: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256))
})

/** A tokens file (`--tokens FILE`) or `DEVMATRIX_TOKENS`: `{ "tokens": [ { token, tenant, role, principal } ] }`. */
export const TokensFile = Schema.Struct({ tokens: Schema.Array(TokenEntry).pipe(Schema.minItems(1)) })

/** The tokens could not be read: the host does not start without them. */
export class TokensError extends Data.TaggedError("TokensError")<{ readonly message: string }> {}

/** Who a bearer token says its holder is. */
export interface TokenTable {
  /** The token's principal, or undefined for a token the host does not know. */
  readonly authenticate: (token: string) => Principal | undefined
}

const digestOf = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest()

/**
 * A table of tokens. Tokens are kept and compared as SHA-256 digests, with `timingSafeEqual`, and
 * against every entry (no early exit): how long a refusal takes says nothing about how close a
 * guess was, nor which entry matched.
 */
export const tokenTable = (entries: ReadonlyArray<typeof TokenEntry.Type>): TokenTable => {
  const table = entries.map((entry) => ({
    digest: digestOf(entry.token),
    principal: { principal: entry.principal, tenant: entry.tenant, role: entry.role } satisfies Principal
  }))
  return {
    authenticate: (token) => {
      const digest = digestOf(token)
      let found: Principal | undefined
      for (const entry of table) if (timingSafeEqual(entry.digest, digest)) found ??= entry.principal
      return found
    }
  }
}

const decodeTokens = decodeInput(TokensFile, "tokens")

/** The tokens of a file's text (JSON), or what is wrong with them, naming where they came from (never a token). */
export const parseTokens = (text: string, source: string): Either.Either<TokenTable, TokensError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return Either.left(new TokensError({ message: `${source} is not JSON: ${(error as Error).message}` }))
  }
  return Either.mapBoth(decodeTokens(json), {
    onLeft: (error) =>
      new TokensError({
        message: `${source}: ${error.problems
          .slice(0, 5)
          .map((p) => `${p.path === "" ? "" : `${p.path}: `}${p.message}`)
          .join("; ")}`
      }),
    onRight: (file) => tokenTable(file.tokens)
  })
}

/** The name of the environment variable that holds the tokens (the tokens file's JSON) when no file is given. */
export const tokensEnvVar = "DEVMATRIX_TOKENS"

/** The host's tokens: from `file` when given, else from `DEVMATRIX_TOKENS`; without either the host does not start. */
export const loadTokens = (
  file: string | undefined,
  env: NodeJS.ProcessEnv
): Effect.Effect<TokenTable, TokensError> => {
  if (file !== undefined)
    return Effect.tryPromise({
      try: () => readFile(file, "utf8"),
      catch: (error) =>
        new TokensError({ message: `cannot read the tokens file ${file}: ${(error as Error).message}` })
    }).pipe(Effect.flatMap((text) => parseTokens(text, `the tokens file ${file}`)))
  const fromEnv = env[tokensEnvVar]
  if (fromEnv !== undefined && fromEnv !== "") return parseTokens(fromEnv, tokensEnvVar)
  return Effect.fail(
    new TokensError({
      message: `no tokens: give --tokens FILE or set ${tokensEnvVar} (JSON: {"tokens":[{"token","tenant","role","principal"}]})`
    })
  )
}
