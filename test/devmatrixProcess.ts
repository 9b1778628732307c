import { Event } from "@devmatrix/core"
import { Schema } from "effect"
import { spawn } from "node:child_process"
import { join } from "node:path"

// The built `devmatrix` binary, run as a user would (`pnpm test` builds first).
export const root = join(import.meta.dirname, "..")
export const bin = join(root, "packages/host/bin/devmatrix.js")

/** The environment of a shell: without what a package script (`pnpm test` itself) sets. */
const shellEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("npm_")))

export interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  /** Called with all of stdout so far; `interrupt` sends Ctrl-C (SIGINT), once. */
  readonly onStdout?: (text: string, interrupt: () => void) => void
  /** Close the reading end of stdout before the command writes, as `| head` does once it has its lines. */
  readonly closeStdout?: boolean
  readonly env?: Record<string, string>
}

/** Runs `devmatrix <args>` in a child process, without an Anthropic key; resolves when it exits. */
export const runDevmatrix = (args: ReadonlyArray<string>, options: RunOptions = {}) =>
  new Promise<Run>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...shellEnv, ANTHROPIC_API_KEY: "", ...options.env }
    })
    if (options.closeStdout === true) child.stdout.destroy()
    let stdout = ""
    let stderr = ""
    let interrupted = false
    const interrupt = () => {
      if (!interrupted) child.kill("SIGINT")
      interrupted = true
    }
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      options.onStdout?.(stdout, interrupt)
    })
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const decodeEvent = Schema.decodeUnknownSync(Event)

/** The `--json` lines of a run, each decoded with the `Event` schema. */
export const eventsOf = (stdout: string): Array<Event> =>
  stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => decodeEvent(JSON.parse(line)))
