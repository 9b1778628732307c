import { invalidRequest } from "./apiError.js"
import type { ApiError } from "./apiError.js"
import { findFakeModel } from "./fakeModels.js"
import type { FakeModel } from "./fakeModels.js"

/** How long a prompt-cache entry lives unless it is read again. */
export type CacheTtl = "5m" | "1h"

/** A text content block, with its cache breakpoint if it carries one. */
export interface TextBlock {
  readonly text: string
  readonly cacheTtl?: CacheTtl | undefined
}

/** One turn of the conversation; a string content reads as one text block. */
export interface Message {
  readonly role: "user" | "assistant"
  readonly content: ReadonlyArray<TextBlock>
}

/** A Messages API request body once the server has accepted it. */
export interface MessagesRequest {
  /** The model as the request names it (an id or an alias). */
  readonly model: string
  readonly limits: FakeModel
  readonly maxTokens: number
  readonly system: ReadonlyArray<TextBlock>
  readonly messages: ReadonlyArray<Message>
  readonly temperature?: number | undefined
  readonly stopSequences: ReadonlyArray<string>
  /** The `x-devmatrix-call` header: `<masterplanId>/<atomId>/<attempt>`. */
  readonly callId?: string | undefined
}

type Checked<A> = A | ApiError

const isError = (value: unknown): value is ApiError =>
  typeof value === "object" && value !== null && "status" in value && "type" in value

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const maxCacheBreakpoints = 4

const cacheControlOf = (value: unknown, path: string): Checked<CacheTtl | undefined> => {
  if (value === undefined || value === null) return undefined
  if (!isRecord(value)) return invalidRequest(`${path}: Input should be a valid dictionary`)
  if (value["type"] !== "ephemeral") return invalidRequest(`${path}.type: Input should be 'ephemeral'`)
  const ttl = value["ttl"]
  if (ttl === undefined) return "5m"
  if (ttl !== "5m" && ttl !== "1h") return invalidRequest(`${path}.ttl: Input should be '5m' or '1h'`)
  return ttl
}

const textBlockOf = (value: unknown, path: string): Checked<TextBlock> => {
  if (!isRecord(value)) return invalidRequest(`${path}: Input should be a valid dictionary`)
  if (value["type"] !== "text")
    return invalidRequest(
      `${path}.type: Input tag '${String(value["type"])}' found using 'type' does not match the expected tag: 'text' (this server takes text blocks only)`
    )
  const text = value["text"]
  if (typeof text !== "string") return invalidRequest(`${path}.text: Input should be a valid string`)
  if (text === "") return invalidRequest(`${path}: text content blocks must be non-empty`)
  const cacheTtl = cacheControlOf(value["cache_control"], `${path}.cache_control`)
  if (isError(cacheTtl)) return cacheTtl
  return cacheTtl === undefined ? { text } : { text, cacheTtl }
}

/** A `content` or `system` value: a string, or a list of text blocks. */
const blocksOf = (value: unknown, path: string): Checked<ReadonlyArray<TextBlock>> => {
  if (typeof value === "string") return value === "" ? [] : [{ text: value }]
  if (!Array.isArray(value)) return invalidRequest(`${path}: Input should be a valid string or a valid list`)
  const blocks: Array<TextBlock> = []
  for (const [index, item] of value.entries()) {
    const block = textBlockOf(item, `${path}.${index}`)
    if (isError(block)) return block
    blocks.push(block)
  }
  return blocks
}

const messagesOf = (value: unknown): Checked<ReadonlyArray<Message>> => {
  if (value === undefined) return invalidRequest("messages: Field required")
  if (!Array.isArray(value)) return invalidRequest("messages: Input should be a valid list")
  if (value.length === 0) return invalidRequest("messages: at least one message is required")
  const messages: Array<Message> = []
  for (const [index, item] of value.entries()) {
    if (!isRecord(item)) return invalidRequest(`messages.${index}: Input should be a valid dictionary`)
    const role = item["role"]
    if (role !== "user" && role !== "assistant")
      return invalidRequest(`messages.${index}.role: Input should be 'user' or 'assistant'`)
    if (index === 0 && role !== "user")
      return invalidRequest(`messages: first message must use the "user" role`)
    const previous = messages[index - 1]
    if (previous !== undefined && previous.role === role)
      return invalidRequest(
        `messages: roles must alternate between "user" and "assistant", but found multiple "${role}" roles in a row`
      )
    if (item["content"] === undefined) return invalidRequest(`messages.${index}.content: Field required`)
    const content = blocksOf(item["content"], `messages.${index}.content`)
    if (isError(content)) return content
    if (content.length === 0 && !(role === "assistant" && index === value.length - 1))
      return invalidRequest(
        `messages.${index}: all messages must have non-empty content except for the optional final assistant message`
      )
    messages.push({ role, content })
  }
  return messages
}

/** The checks on cache breakpoints the real API makes: at most 4, and no 1-hour entry after a 5-minute one. */
const breakpointProblem = (blocks: ReadonlyArray<TextBlock>): ApiError | undefined => {
  const ttls = blocks.flatMap((block) => (block.cacheTtl !== undefined ? [block.cacheTtl] : []))
  if (ttls.length > maxCacheBreakpoints)
    return invalidRequest(
      `A maximum of ${maxCacheBreakpoints} blocks with cache_control may be provided. Found ${ttls.length}.`
    )
  const firstShort = ttls.indexOf("5m")
  if (firstShort !== -1 && ttls.indexOf("1h", firstShort) !== -1)
    return invalidRequest(`a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block`)
  return undefined
}

const maxTokensOf = (value: unknown): Checked<number> => {
  if (value === undefined) return invalidRequest("max_tokens: Field required")
  if (typeof value !== "number" || !Number.isInteger(value))
    return invalidRequest("max_tokens: Input should be a valid integer")
  if (value < 1) return invalidRequest("max_tokens: Input should be greater than or equal to 1")
  return value
}

const stopSequencesOf = (value: unknown): Checked<ReadonlyArray<string>> => {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string"))
    return invalidRequest("stop_sequences: Input should be a valid list of strings")
  return value as ReadonlyArray<string>
}

/**
 * Checks a request body as the Messages API does, in its order and with its messages: the body's
 * shape, then the model (404 when unknown), then `max_tokens` against the model's output limit.
 * The prompt's length against the context window is checked by the caller, which counts tokens.
 */
export const decodeMessagesRequest = (
  body: unknown,
  models: ReadonlyArray<FakeModel>
): MessagesRequest | ApiError => {
  if (!isRecord(body)) return invalidRequest("the request body must be a JSON object")
  const model = body["model"]
  if (model === undefined) return invalidRequest("model: Field required")
  if (typeof model !== "string") return invalidRequest("model: Input should be a valid string")
  const maxTokens = maxTokensOf(body["max_tokens"])
  if (isError(maxTokens)) return maxTokens
  const messages = messagesOf(body["messages"])
  if (isError(messages)) return messages
  const system = body["system"] === undefined ? [] : blocksOf(body["system"], "system")
  if (isError(system)) return system
  const temperature = body["temperature"]
  if (temperature !== undefined && typeof temperature !== "number")
    return invalidRequest("temperature: Input should be a valid number")
  if (typeof temperature === "number" && temperature < 0)
    return invalidRequest("temperature: Input should be greater than or equal to 0")
  if (typeof temperature === "number" && temperature > 1)
    return invalidRequest("temperature: Input should be less than or equal to 1")
  const stopSequences = stopSequencesOf(body["stop_sequences"])
  if (isError(stopSequences)) return stopSequences
  if (body["stream"] === true) return invalidRequest("stream: this local server answers without streaming")
  const breakpoints = breakpointProblem([...system, ...messages.flatMap((message) => message.content)])
  if (breakpoints !== undefined) return breakpoints
  const limits = findFakeModel(models, model)
  if (limits === undefined) return { status: 404, type: "not_found_error", message: `model: ${model}` }
  if (maxTokens > limits.maxOutputTokens)
    return invalidRequest(
      `max_tokens: ${maxTokens} > ${limits.maxOutputTokens}, which is the maximum allowed number of output tokens for ${model}`
    )
  return {
    model,
    limits,
    maxTokens,
    system,
    messages,
    stopSequences,
    ...(temperature !== undefined ? { temperature } : {})
  }
}

/** Whether a decode gave an error rather than a request. */
export const isApiError = isError
