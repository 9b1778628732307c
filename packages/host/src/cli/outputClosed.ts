const closedOutputs = new WeakMap<NodeJS.WritableStream, Promise<void>>()

/**
 * Resolves once the reader of `stream` has gone (`devmatrix status | head -2`). From the first call
 * on, the EPIPE errors of later writes are absorbed: Node reports each one as an 'error' event,
 * which would otherwise crash the process with a stack trace. Other write errors still do.
 */
export const outputClosed = (stream: NodeJS.WritableStream): Promise<void> => {
  const known = closedOutputs.get(stream)
  if (known !== undefined) return known
  const closed = new Promise<void>((resolve) =>
    // Kept for the life of the stream: every write after the pipe closed reports EPIPE again.
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error
      resolve()
    })
  )
  closedOutputs.set(stream, closed)
  return closed
}
