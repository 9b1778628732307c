import type { Event } from "@devmatrix/core"
import { createClient, isDevMatrixError, type ClientOptions, type DevMatrixError } from "@devmatrix/sdk"
import { afterEach } from "vitest"
import { startProtocolServer, type ProtocolServerOptions } from "./protocolServer.js"

/**
 * Protocol servers and SDK clients for a test file, each closed after its test (clients first):
 * `connect` makes a client of the good token with a fast reconnect unless told otherwise.
 */
export const sdkHarness = (reconnect: ClientOptions["reconnect"]) => {
  const open: Array<{ close: () => Promise<void> }> = []
  afterEach(async () => {
    await Promise.all(open.splice(0).map((resource) => resource.close()))
  })
  return {
    serve: async (options: ProtocolServerOptions = {}) => {
      const server = await startProtocolServer(options)
      open.push(server)
      return server
    },
    connect: (url: string, more: Partial<ClientOptions> = {}) => {
      const client = createClient({ url, token: "good-token", reconnect, ...more })
      open.unshift(client)
      return client
    }
  }
}

/** The `DevMatrixError` a promise rejects with (throws if it resolves, or rejects with another). */
export const failure = async (promise: Promise<unknown>): Promise<DevMatrixError> => {
  try {
    await promise
  } catch (error) {
    if (isDevMatrixError(error)) return error
    throw error
  }
  throw new Error("expected a rejection")
}

/** Every event of a watch, to its end. */
export const collect = async (events: AsyncIterable<Event>): Promise<Array<Event>> => {
  const seen: Array<Event> = []
  for await (const event of events) seen.push(event)
  return seen
}
