#!/usr/bin/env node
import { main } from "../dist/main.js"

/** Resolves once what was written to the stream so far has been handed to the OS (or it is closed). */
const flushed = (stream) => new Promise((resolve) => stream.write("", () => resolve()))

main(process.argv.slice(2)).then(async (code) => {
  process.exitCode = code
  await Promise.all([flushed(process.stdout), flushed(process.stderr)])
  // The command is over: a connection that a stalled store left hanging (a network partition)
  // must not keep the process alive. Without one, the process has exited before this fires.
  setTimeout(() => process.exit(code), 500).unref()
})
