import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** A Chroma server the tests talk to. */
export interface ChromaServer {
  readonly url: string
  /** Stops the server if the tests started it (and removes its data); a no-op for one given by env. */
  readonly stop: () => Promise<void>
}

/** A server, or why there is none. */
export type ChromaForTests = { readonly server: ChromaServer } | { readonly skip: string }

/** How long the server may take to answer its first heartbeat (the first run of glibc-next downloads libraries). */
const startDeadlineMs = 120_000

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..")

/** The C library this process runs on, as Node reports it (`2.36`); undefined off glibc. */
const glibcVersion = (): number | undefined => {
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
  const version = header?.glibcVersionRuntime
  return version === undefined ? undefined : Number(version)
}

/**
 * Chroma's server ships in the `chromadb` npm package as a native binding, run by the package's
 * `chroma` CLI (`dist/cli.mjs`). The binding needs glibc >= 2.39; on an older system (Debian 12 has
 * 2.36) the repository's `scripts/glibc-next` (or DEVMATRIX_GLIBC_NEXT) runs it under a newer one,
 * downloaded once from Debian's archive; on a newer one, node runs the CLI directly.
 */
const chromaCommand = (): ReadonlyArray<string> => {
  const cli = join(dirname(createRequire(import.meta.url).resolve("chromadb")), "..", "cli.mjs")
  const glibc = glibcVersion()
  if (glibc === undefined || glibc >= 2.39) return [process.execPath, cli]
  const wrapper = process.env["DEVMATRIX_GLIBC_NEXT"] ?? resolve(repoRoot, "scripts/glibc-next")
  return [wrapper, process.execPath, cli]
}

const freePort = () =>
  new Promise<number>((done, fail) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => done(port))
    })
    server.on("error", fail)
  })

const heartbeat = async (url: string): Promise<boolean> => {
  try {
    const response = await fetch(`${url}/api/v2/heartbeat`, { signal: AbortSignal.timeout(2_000) })
    return response.ok
  } catch {
    return false
  }
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms))

/**
 * Starts a real Chroma server for a test file: on a free port of 127.0.0.1, its data in a temp
 * dir, as a child process in a process group of its own (so that stopping it stops the server
 * under the wrapper too), ready once its heartbeat answers. DEVMATRIX_TEST_CHROMA=<url> uses a
 * server already running instead.
 */
export const startChroma = async (): Promise<ChromaForTests> => {
  const given = process.env["DEVMATRIX_TEST_CHROMA"]
  if (given !== undefined) {
    return (await heartbeat(given))
      ? { server: { url: given, stop: async () => {} } }
      : { skip: `DEVMATRIX_TEST_CHROMA=${given} does not answer its heartbeat` }
  }
  let command: ReadonlyArray<string>
  try {
    command = chromaCommand()
  } catch (error) {
    return { skip: `the chromadb package is not installed: ${(error as Error).message}` }
  }
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), "devmatrix-chroma-"))
  const url = `http://127.0.0.1:${port}`
  const [program, ...args] = command
  const child = spawn(
    program!,
    [...args, "run", "--path", dir, "--host", "127.0.0.1", "--port", String(port)],
    {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true
    }
  )
  let output = ""
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4_000)
  }
  child.stdout.on("data", keep)
  child.stderr.on("data", keep)
  let exited: string | undefined
  const gone = new Promise<void>((done) => {
    child.on("exit", (code, signal) => {
      exited = `exited with ${signal ?? code}`
      done()
    })
    child.on("error", (error) => {
      exited = `could not start: ${error.message}`
      done()
    })
  })
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal)
    } catch {
      // already gone
    }
  }
  // A test run that dies without its afterAll leaves no server behind.
  const onExit = () => killGroup("SIGKILL")
  process.once("exit", onExit)

  const stop = async () => {
    process.removeListener("exit", onExit)
    if (exited === undefined) {
      // The wrapper turns TERM into a KILL of the server (which ignores TERM); KILL the group if it does not.
      killGroup("SIGTERM")
      const timer = setTimeout(() => killGroup("SIGKILL"), 5_000)
      await gone
      clearTimeout(timer)
    }
    rmSync(dir, { recursive: true, force: true })
  }

  const deadline = Date.now() + startDeadlineMs
  while (exited === undefined && Date.now() < deadline) {
    if (await heartbeat(url)) return { server: { url, stop } }
    await sleep(250)
  }
  const why = exited ?? `no heartbeat within ${startDeadlineMs / 1000} s`
  await stop()
  return { skip: `Chroma (${command.join(" ")} run) ${why}; its last output:\n${output.trim()}` }
}

/**
 * `startChroma()`, for a test file's top level: the server, or undefined after saying why there is
 * none. Under CI=true no server is a failure, not a skip.
 */
export const chromaOrSkip = async (): Promise<ChromaServer | undefined> => {
  const started = await startChroma()
  if ("server" in started) return started.server
  if (process.env["CI"] === "true") throw new Error(`CI=true and no Chroma server: ${started.skip}`)
  console.warn(`Chroma tests not run: ${started.skip}`)
  return undefined
}
