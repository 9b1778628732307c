import { isTerminalEvent } from "@devmatrix/core"
import { expect, it } from "vitest"
import { startHost, submitAndFollow } from "./submit.js"

it("the README's host example submits the example plan from the SDK and follows it to completion", async () => {
  const host = await startHost()
  try {
    const lines: Array<string> = []
    const events = await submitAndFollow(host.url, (line) => lines.push(line))
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
    expect(isTerminalEvent(events.at(-1)!)).toBe(true)
    expect(events.at(-1)!.type).toBe("masterplan.completed")
    expect(lines[0]).toBe("submitted example/todo-api")
    expect(lines.at(-1)).toMatch(/^masterplan\.completed: 42\/42 atoms/)
  } finally {
    expect(await host.stop()).toBe(0)
  }
}, 120_000)
