/**
 * The buffer between a watch and its consumer: events are pushed as they arrive and read with
 * `next()`, at the consumer's pace. It is unbounded (the client reads its socket whatever the
 * consumer does, so that one slow loop does not stall the connection's other watches and
 * replies); `end` and `fail` take effect once what is buffered has been read.
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  private items: Array<T> = []
  private head = 0
  private reader: { resolve: (result: IteratorResult<T>) => void; reject: (error: Error) => void } | undefined
  /** Set once nothing more is pushed, with the error to throw once the buffer is read if it failed. */
  private finished: { readonly error: Error | undefined } | undefined

  /** `onReturn` is told when the consumer stops early (`break` out of `for await`). */
  constructor(private readonly onReturn: () => void) {}

  push(item: T): void {
    if (this.finished !== undefined) return
    if (this.reader !== undefined) {
      const reader = this.reader
      this.reader = undefined
      reader.resolve({ done: false, value: item })
    } else this.items.push(item)
  }

  /** No more events: the consumer reads what is buffered, then the end. */
  end(): void {
    this.finish(undefined)
  }

  /** The watch failed: the consumer reads what is buffered, then `next()` rejects with `error`. */
  fail(error: Error): void {
    this.finish(error)
  }

  /** Ends now: what is buffered is dropped. */
  stop(): void {
    this.items = []
    this.head = 0
    this.finish(undefined)
  }

  next(): Promise<IteratorResult<T>> {
    if (this.head < this.items.length) {
      const value = this.items[this.head] as T
      this.head++
      // Drop the read part now and then, so a long watch does not keep what it has read.
      if (this.head >= 1024 && this.head * 2 >= this.items.length) {
        this.items = this.items.slice(this.head)
        this.head = 0
      }
      return Promise.resolve({ done: false, value })
    }
    if (this.finished === undefined)
      return new Promise((resolve, reject) => (this.reader = { resolve, reject }))
    const { error } = this.finished
    if (error === undefined) return Promise.resolve({ done: true, value: undefined })
    // Thrown once: the read after it is the end.
    this.finished = { error: undefined }
    return Promise.reject(error)
  }

  return(): Promise<IteratorResult<T>> {
    this.stop()
    this.onReturn()
    return Promise.resolve({ done: true, value: undefined })
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  private finish(error: Error | undefined): void {
    if (this.finished !== undefined) return
    this.finished = { error }
    const reader = this.reader
    if (reader === undefined) return
    // A reader waits only on an empty buffer: it gets the end at once.
    this.reader = undefined
    if (error === undefined) return reader.resolve({ done: true, value: undefined })
    this.finished = { error: undefined }
    reader.reject(error)
  }
}
