import { scriptedCode } from "@devmatrix/runtime"
import type { MessagesRequest } from "./messagesRequest.js"

/** The `stop_reason` values a responder may choose; `max_tokens` is the server's to decide. */
export type ResponderStopReason = "end_turn" | "stop_sequence" | "refusal"

/** What the model "says": its text, and why it stopped (default `end_turn`). */
export interface FakeReply {
  readonly text: string
  readonly stopReason?: ResponderStopReason | undefined
}

/** Writes the answer to an accepted request. */
export type Responder = (request: MessagesRequest) => FakeReply | Promise<FakeReply>

const languages = new Set(["typescript", "javascript", "python"])

/** The text of a message's blocks, joined. */
const textOf = (request: MessagesRequest): string =>
  request.messages
    .filter((message) => message.role === "user")
    .flatMap((message) => message.content.map((block) => block.text))
    .join("\n")

const lineValue = (text: string, label: string): string | undefined =>
  new RegExp(`^${label}:[ \\t]*(.*?)[ \\t]*$`, "m").exec(text)?.[1]

/**
 * The default answer: reads the prompt format of issue 14's contract (lines `Atom: <id>`,
 * `Language: <language>`, `Define: <a>, <b>` in the user turns) and writes small valid code that
 * defines those names, as the scripted model does. A prompt without an `Atom:` line gets "OK".
 */
export const defaultResponder: Responder = (request) => {
  const text = textOf(request)
  const atomId = lineValue(text, "Atom")
  if (atomId === undefined || atomId === "") return { text: "OK" }
  const language = lineValue(text, "Language")?.toLowerCase()
  const defines = (lineValue(text, "Define") ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "")
  return {
    text: scriptedCode({
      atomId,
      language: language !== undefined && languages.has(language) ? (language as "typescript") : "typescript",
      defines
    })
  }
}
