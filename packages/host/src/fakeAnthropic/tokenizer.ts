import type { MessagesRequest } from "./messagesRequest.js"

const encoder = new TextEncoder()

/** The server's token count of a text (the contract of issue 14): a token per 4 UTF-8 bytes, rounded up. */
export const tokensOf = (text: string): number => Math.ceil(encoder.encode(text).length / 4)

/** Tokens every message adds besides its text (its role and turn markers). */
export const tokensPerMessage = 4

/** Tokens every request adds besides its messages. */
export const tokensPerRequest = 8

/** A request's prompt tokens: its system and message text blocks, plus 4 per message, plus 8. */
export const promptTokensOf = (request: Pick<MessagesRequest, "system" | "messages">): number =>
  request.system.reduce((sum, block) => sum + tokensOf(block.text), 0) +
  request.messages.reduce(
    (sum, message) =>
      sum + tokensPerMessage + message.content.reduce((inner, block) => inner + tokensOf(block.text), 0),
    0
  ) +
  tokensPerRequest

/** The longest start of `text` that is at most `maxTokens` by `tokensOf`, never cut inside a character. */
export const cutToTokens = (text: string, maxTokens: number): string => {
  const maxBytes = maxTokens * 4
  let bytes = 0
  let end = 0
  for (const char of text) {
    const size = encoder.encode(char).length
    if (bytes + size > maxBytes) break
    bytes += size
    end += char.length
  }
  return text.slice(0, end)
}
