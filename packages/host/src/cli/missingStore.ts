import { existsSync } from "node:fs"
import { UsageError } from "./exitCodes.js"

/** Whether the store is an SQLite file that does not exist: opening it would create it. */
export const isMissingStore = (store: string): boolean =>
  store.startsWith("sqlite:") && !existsSync(store.slice("sqlite:".length))

/** A command that reads a store was pointed at one that does not exist. */
export const noStoreAt = (store: string): UsageError =>
  new UsageError(`no store at ${store}: the file does not exist`)
