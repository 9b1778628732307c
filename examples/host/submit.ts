/**
 * DevMatrix as a service: starts `devmatrix host` (a child process, on a free port, with a tokens
 * file of its own and an in-memory store), then submits the example plan from an SDK client and
 * prints its progress as the events stream in. Run it with `node --import tsx examples/host/submit.ts`
 * after `pnpm build`.
 */
import { createClient } from "@devmatrix/sdk"
import type { Event } from "@devmatrix/sdk"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const root = join(import.meta.dirname, "../..")
const token = "example-operator-token-0001"

/** Starts a host; resolves with its URL once it listens, and a way to stop it. */
export const startHost = () =>
  new Promise<{ url: string; stop: () => Promise<number | null> }>((resolve, reject) => {
    const tokens = join(mkdtempSync(join(tmpdir(), "devmatrix-example-")), "tokens.json")
    writeFileSync(
      tokens,
      JSON.stringify({ tokens: [{ token, tenant: "example", role: "operator", principal: "you" }] })
    )
    const host = spawn(
      process.execPath,
      [
        join(root, "packages/host/bin/devmatrix.js"),
        "host",
        "--port",
        "0",
        "--tokens",
        tokens,
        "--store",
        "memory:"
      ],
      {
        env: { ...process.env, ANTHROPIC_API_KEY: "" }
      }
    )
    const exited = new Promise<number | null>((done) => host.on("close", done))
    let stderr = ""
    host.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
      const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1]
      if (url !== undefined) resolve({ url, stop: () => (host.kill("SIGTERM"), exited) })
    })
    void exited.then((code) => reject(new Error(`the host exited (${code}):\n${stderr}`)))
  })

/** Submits the example plan to the host at `url` and follows it to its end; its events. */
export const submitAndFollow = async (url: string, print: (line: string) => void) => {
  const plan: unknown = JSON.parse(readFileSync(join(root, "examples/plans/todo-api.json"), "utf8"))
  await using client = createClient({ url, token })
  const { masterplanId } = await client.submit(plan as never, { masterplanId: "todo-api" })
  print(`submitted ${masterplanId}`)
  const events: Array<Event> = []
  for await (const event of client.watch(masterplanId)) {
    events.push(event)
    if (event.type === "wave.completed")
      print(`wave ${event.wave}: ${event.completed} completed, ${event.failed} failed`)
    if (event.type === "masterplan.completed" || event.type === "masterplan.failed")
      print(
        `${event.type}: ${event.summary.atoms.completed}/${event.summary.atoms.total} atoms, $${event.summary.costUsd.toFixed(4)}`
      )
  }
  return events
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const host = await startHost()
  try {
    await submitAndFollow(host.url, (line) => process.stdout.write(`${line}\n`))
  } finally {
    await host.stop()
  }
}
