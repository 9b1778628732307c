/** The prompt of one request as text: system blocks and message texts. */
export interface PromptParts {
  readonly system: ReadonlyArray<string>
  readonly messages: ReadonlyArray<string>
}

const nonAscii = /[^\x00-\x7f]/

/** Bytes of `text` in UTF-8 (a lone surrogate counts as U+FFFD, 3 bytes, as encoders write it). */
export const utf8ByteLength = (text: string): number => {
  // Prompts are mostly ASCII: one native scan answers those without a loop in JavaScript.
  if (!nonAscii.test(text)) return text.length
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

/**
 * A conservative count of a request's input tokens without asking the provider: every text at
 * one token per 3 UTF-8 bytes (rounded up), plus 8 per message and 16 per request. It is never
 * below the local stand-in's count (one per 4 bytes, 4 per message, 8 per request) and is meant to
 * stay above a real tokenizer's for code and prose, so a reservation made from it holds.
 */
export const estimateInputTokens = (parts: PromptParts): number =>
  [...parts.system, ...parts.messages].reduce((sum, text) => sum + Math.ceil(utf8ByteLength(text) / 3), 0) +
  8 * parts.messages.length +
  16
