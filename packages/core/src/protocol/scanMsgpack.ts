/**
 * Bytes each msgpack type byte is followed by before its payload or children, by its first byte,
 * for the types of fixed layout: ints, floats and fixext (whose ext type byte is counted here).
 */
const fixedSizes: ReadonlyMap<number, number> = new Map([
  [0xc0, 0],
  [0xc2, 0],
  [0xc3, 0],
  [0xca, 4],
  [0xcb, 8],
  [0xcc, 1],
  [0xcd, 2],
  [0xce, 4],
  [0xcf, 8],
  [0xd0, 1],
  [0xd1, 2],
  [0xd2, 4],
  [0xd3, 8]
])

/** The msgpack way of writing `undefined` (fixext 1, type 0, data 0), which msgpackr writes. */
const isUndefinedExt = (bytes: Uint8Array, at: number): boolean =>
  bytes[at] === 0xd4 && bytes[at + 1] === 0 && bytes[at + 2] === 0

/** A big-endian unsigned length of `size` bytes at `at` (0 if past the end: the caller checks). */
const lengthAt = (bytes: Uint8Array, at: number, size: number): number => {
  let n = 0
  for (let i = 0; i < size; i++) n = n * 256 + (bytes[at + i] ?? 0)
  return n
}

/**
 * What is wrong with bytes as one msgpack value, or undefined if nothing is: read without building
 * the value and without recursion, in one pass over the bytes (every value takes a byte at least,
 * so a header claiming four billion entries costs nothing). A value nested more than `maxDepth`
 * deep, an extension (a type of msgpackr's or anyone's: frames hold none, but msgpackr would act
 * on some), the reserved byte 0xC1, a length past the end, or bytes after the value are refused.
 * msgpackr reads a value that passes without surprises: it loops, allocates and recurses in
 * proportion to the bytes it was given.
 */
export const scanMsgpack = (bytes: Uint8Array, maxDepth: number): string | undefined => {
  // How many values each open array or map still holds (a map holds two per entry).
  const open: Array<number> = []
  let at = 0
  const end = bytes.byteLength
  for (;;) {
    if (at >= end) return end === 0 ? "no bytes" : `cut short at byte ${end.toLocaleString("en-US")}`
    const token = bytes[at]!
    let skip = 0
    let children = 0
    if (token <= 0x7f || token >= 0xe0) skip = 1
    else if (token <= 0x8f) [skip, children] = [1, (token & 0x0f) * 2]
    else if (token <= 0x9f) [skip, children] = [1, token & 0x0f]
    else if (token <= 0xbf) skip = 1 + (token & 0x1f)
    else if (fixedSizes.has(token)) skip = 1 + fixedSizes.get(token)!
    else if (token >= 0xc4 && token <= 0xc6) {
      const size = 1 << (token - 0xc4)
      skip = 1 + size + lengthAt(bytes, at + 1, size)
    } else if (token >= 0xd9 && token <= 0xdb) {
      const size = 1 << (token - 0xd9)
      skip = 1 + size + lengthAt(bytes, at + 1, size)
    } else if (token === 0xdc || token === 0xdd) {
      const size = token === 0xdc ? 2 : 4
      ;[skip, children] = [1 + size, lengthAt(bytes, at + 1, size)]
    } else if (token === 0xde || token === 0xdf) {
      const size = token === 0xde ? 2 : 4
      ;[skip, children] = [1 + size, lengthAt(bytes, at + 1, size) * 2]
    } else if (token === 0xd4 && at + 3 > end) return `cut short at byte ${end.toLocaleString("en-US")}`
    else if (isUndefinedExt(bytes, at)) skip = 3
    else if (token === 0xc1) return `the reserved byte 0xC1 at byte ${at.toLocaleString("en-US")}`
    else return `a msgpack extension at byte ${at.toLocaleString("en-US")}, which frames do not use`
    at += skip
    if (at > end) return `cut short at byte ${end.toLocaleString("en-US")}`
    if (children > 0) {
      if (open.length >= maxDepth) return `nested more than ${maxDepth.toLocaleString("en-US")} levels deep`
      if (children > end - at) return `a length of ${children.toLocaleString("en-US")} entries past the end`
      open.push(children)
    } else {
      // The value is whole: it fills a place in each container it completes.
      while (open.length > 0 && --open[open.length - 1]! === 0) open.pop()
    }
    if (open.length === 0) {
      return at === end ? undefined : `${(end - at).toLocaleString("en-US")} bytes after the value`
    }
  }
}
