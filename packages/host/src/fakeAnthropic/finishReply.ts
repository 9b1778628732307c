import type { FaultSpec } from "./faults.js"
import type { MessagesRequest } from "./messagesRequest.js"
import type { FakeReply } from "./responder.js"
import { cutToTokens, tokensOf } from "./tokenizer.js"

/** The text as sent and why it stopped: the reply, cut at a stop sequence, then at `max_tokens`. */
export const finishReply = (
  request: MessagesRequest,
  reply: FakeReply,
  fault: FaultSpec | undefined
): { text: string; stopReason: string; stopSequence: string | null } => {
  let text = reply.text
  let stopReason: string = reply.stopReason ?? "end_turn"
  let stopSequence: string | null = null
  for (const sequence of request.stopSequences) {
    const index = text.indexOf(sequence)
    if (sequence !== "" && index !== -1 && (stopSequence === null || index < text.indexOf(stopSequence))) {
      stopSequence = sequence
      stopReason = "stop_sequence"
    }
  }
  if (stopSequence !== null) text = text.slice(0, text.indexOf(stopSequence))
  const limit =
    fault?.kind === "max_tokens"
      ? Math.min(request.maxTokens, fault.outputTokens ?? Math.max(1, Math.floor(tokensOf(text) / 2)))
      : request.maxTokens
  if (tokensOf(text) > limit || fault?.kind === "max_tokens") {
    text = cutToTokens(text, limit)
    stopReason = "max_tokens"
    stopSequence = null
  }
  return { text, stopReason, stopSequence }
}
