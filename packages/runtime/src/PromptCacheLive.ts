import { Config, Effect, Layer, Option } from "effect"
import { PromptCacheNone } from "./PromptCache.js"
import type { PromptCache, PromptCacheOptions } from "./PromptCache.js"
import { PromptCacheRedis } from "./PromptCacheRedis.js"
import { PromptCacheStore } from "./PromptCacheStore.js"
import type { Store } from "./Store.js"

/** Which prompt cache a run uses, as the CLI's options say it. */
export interface PromptCacheChoice extends PromptCacheOptions {
  /** A Redis URL (`--redis`, `DEVMATRIX_REDIS`): the cache on it. Absent: the cache in the Store. */
  readonly redis?: string | undefined
  /** Redis keys' prefix. @default "devmatrix:prompt-cache:" */
  readonly keyPrefix?: string | undefined
  /** No cache at all (`--no-cache`): every call is made. @default false */
  readonly disabled?: boolean | undefined
}

/**
 * The prompt cache a run's options choose, in one place: none when disabled, Redis when a URL is
 * given, else the Store's (the embedded default: answers survive across runs).
 *
 * @example
 * promptCacheFromOptions({ redis: flags.redis ?? process.env["DEVMATRIX_REDIS"] })
 */
export const promptCacheFromOptions = (
  choice: PromptCacheChoice = {}
): Layer.Layer<PromptCache, never, Store> => {
  const ttl = choice.defaultTtlMs === undefined ? {} : { defaultTtlMs: choice.defaultTtlMs }
  if (choice.disabled === true) return PromptCacheNone
  if (choice.redis !== undefined && choice.redis !== "")
    return PromptCacheRedis({
      url: choice.redis,
      ...ttl,
      ...(choice.keyPrefix === undefined ? {} : { keyPrefix: choice.keyPrefix })
    })
  return PromptCacheStore(ttl)
}

/** The production choice: Redis when `DEVMATRIX_REDIS` is set, else the Store's cache. */
export const PromptCacheLive: Layer.Layer<PromptCache, never, Store> = Layer.unwrapEffect(
  Config.option(Config.string("DEVMATRIX_REDIS")).pipe(
    Effect.orElseSucceed(() => Option.none<string>()),
    Effect.map((redis) => promptCacheFromOptions({ redis: Option.getOrUndefined(redis) }))
  )
)
