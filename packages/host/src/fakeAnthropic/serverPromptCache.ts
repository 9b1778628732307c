import { createHash } from "node:crypto"
import type { CacheTtl, MessagesRequest } from "./messagesRequest.js"
import { promptTokensOf, tokensOf, tokensPerMessage, tokensPerRequest } from "./tokenizer.js"

/** How one request's prompt splits between the cache and fresh input, before anything is stored. */
export interface CachePlan {
  readonly promptTokens: number
  readonly cacheReadTokens: number
  readonly cacheWrite5mTokens: number
  readonly cacheWrite1hTokens: number
  /** The prompt tokens neither read from nor written to the cache. */
  readonly inputTokens: number
  /** The prefix read, refreshed on commit. */
  readonly hit?: { readonly key: string; readonly ttl: CacheTtl } | undefined
  /** The prefixes written on commit. */
  readonly writes: ReadonlyArray<{ readonly key: string; readonly ttl: CacheTtl }>
}

/** The lifetimes of cache entries in milliseconds. */
export type CacheTtlMs = Readonly<Record<CacheTtl, number>>

/** The API's lifetimes: 5 minutes and 1 hour. */
export const defaultCacheTtlMs: CacheTtlMs = { "5m": 300_000, "1h": 3_600_000 }

interface Breakpoint {
  readonly key: string
  readonly ttl: CacheTtl
  /** Prompt tokens up to and including the block that carries the breakpoint. */
  readonly tokens: number
}

const sweepAbove = 10_000

/**
 * The prompt cache as the API keeps it: the prefix up to each block carrying `cache_control`
 * (system blocks first, then the messages in order) is hashed with the model; a held prefix is
 * read, a longer one of at least `minCacheableTokens` is written, and an entry lives for its TTL
 * from its last use, on the server's clock.
 */
export class ServerPromptCache {
  private readonly expiries = new Map<string, number>()

  constructor(
    private readonly minCacheableTokens: number,
    private readonly ttlMs: CacheTtlMs
  ) {}

  /** How `request` would be billed at `nowMs`; nothing changes until `commit`. */
  plan(request: MessagesRequest, nowMs: number): CachePlan {
    const promptTokens = promptTokensOf(request)
    const breakpoints = breakpointsOf(request)
    let read = 0
    let hit: Breakpoint | undefined
    for (const breakpoint of breakpoints)
      if ((this.expiries.get(breakpoint.key) ?? Number.NEGATIVE_INFINITY) > nowMs) {
        read = breakpoint.tokens
        hit = breakpoint
      }
    let covered = read
    const written: Record<CacheTtl, number> = { "5m": 0, "1h": 0 }
    const writes: Array<{ key: string; ttl: CacheTtl }> = []
    for (const breakpoint of breakpoints) {
      if (breakpoint.tokens <= covered || breakpoint.tokens < this.minCacheableTokens) continue
      written[breakpoint.ttl] += breakpoint.tokens - covered
      covered = breakpoint.tokens
      writes.push({ key: breakpoint.key, ttl: breakpoint.ttl })
    }
    return {
      promptTokens,
      cacheReadTokens: read,
      cacheWrite5mTokens: written["5m"],
      cacheWrite1hTokens: written["1h"],
      inputTokens: promptTokens - covered,
      ...(hit !== undefined ? { hit: { key: hit.key, ttl: hit.ttl } } : {}),
      writes
    }
  }

  /** Stores what `plan` wrote and refreshes what it read, as of `nowMs`. */
  commit(plan: CachePlan, nowMs: number): void {
    if (plan.hit !== undefined) this.expiries.set(plan.hit.key, nowMs + this.ttlMs[plan.hit.ttl])
    for (const write of plan.writes) this.expiries.set(write.key, nowMs + this.ttlMs[write.ttl])
    if (this.expiries.size > sweepAbove)
      for (const [key, expiresAt] of this.expiries) if (expiresAt <= nowMs) this.expiries.delete(key)
  }
}

const hasBreakpoint = (request: MessagesRequest): boolean =>
  request.system.some((block) => block.cacheTtl !== undefined) ||
  request.messages.some((message) => message.content.some((block) => block.cacheTtl !== undefined))

const breakpointsOf = (request: MessagesRequest): ReadonlyArray<Breakpoint> => {
  if (!hasBreakpoint(request)) return []
  const hash = createHash("sha256").update(JSON.stringify(request.model))
  const breakpoints: Array<Breakpoint> = []
  let tokens = tokensPerRequest
  const visit = (part: string, text: string, ttl: CacheTtl | undefined) => {
    hash.update(JSON.stringify([part, text]))
    tokens += tokensOf(text)
    if (ttl !== undefined) breakpoints.push({ key: hash.copy().digest("hex"), ttl, tokens })
  }
  for (const block of request.system) visit("system", block.text, block.cacheTtl)
  for (const message of request.messages) {
    tokens += tokensPerMessage
    hash.update(JSON.stringify(["turn", message.role]))
    for (const block of message.content) visit(message.role, block.text, block.cacheTtl)
  }
  return breakpoints
}
