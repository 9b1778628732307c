const closedOutputs = new WeakMap<NodeJS.WritableStream, Promise<void>>()

/**
 * Whether a write error says that the reader has gone: EPIPE for a pipe whose reader closed it,
 * EIO for a terminal that hung up (the window closed, the SSH connection dropped: SIGHUP's case).
 */
const readerGone = (stream: NodeJS.WritableStream, error: NodeJS.ErrnoException): boolean =>
  error.code === "EPIPE" || (error.code === "EIO" && (stream as { isTTY?: boolean }).isTTY === true)

/**
 * Resolves once the reader of `stream` has gone (`devmatrix status | head -2`, a closed terminal).
 * From the first call on, the errors of later writes that say so are absorbed: Node reports each
 * one as an 'error' event, which would otherwise crash the process with a stack trace. Other
 * write errors still do.
 */
export const outputClosed = (stream: NodeJS.WritableStream): Promise<void> => {
  const known = closedOutputs.get(stream)
  if (known !== undefined) return known
  const closed = new Promise<void>((resolve) =>
    // Kept for the life of the stream: every write after the pipe closed reports EPIPE again.
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (!readerGone(stream, error)) throw error
      resolve()
    })
  )
  closedOutputs.set(stream, closed)
  return closed
}
