/** How big an input is, as far as checking it goes. */
export interface InputMeasure {
  /** The path of the first array or object nested more than `maxDepth` deep, if one is. */
  readonly tooDeepAt?: ReadonlyArray<PropertyKey>
  /** Values in it: the root, and every array element and object property, however deep. */
  readonly values: number
}

/**
 * Visits the children of a container that are containers themselves, last first (a stack then
 * pops them in order); returns how many children it has, of any kind.
 */
const forEachContainer = (current: object, visit: (child: object, key: PropertyKey) => void): number => {
  if (Array.isArray(current)) {
    for (let i = current.length - 1; i >= 0; i--)
      if (typeof current[i] === "object" && current[i] !== null) visit(current[i] as object, i)
    return current.length
  }
  const keys = Object.keys(current)
  for (let k = keys.length - 1; k >= 0; k--) {
    const child = (current as Record<string, unknown>)[keys[k]!]
    if (typeof child === "object" && child !== null) visit(child, keys[k]!)
  }
  return keys.length
}

/** The path of the first container more than `maxDepth` deep, walking as `measureInput` does. */
const pathTooDeep = (value: object, maxDepth: number): ReadonlyArray<PropertyKey> => {
  const stack: Array<readonly [object, ReadonlyArray<PropertyKey>]> = [[value, []]]
  for (;;) {
    const [current, path] = stack.pop()!
    if (path.length >= maxDepth) return path
    forEachContainer(current, (child, key) => stack.push([child, [...path, key]]))
  }
}

/**
 * Measures an input in one walk without recursion, so that no input can overflow the stack
 * here, and schemas (and their error reports, which recurse) only ever see values of bounded
 * depth. A cyclic value (given in process) is found too deep. The walk stops at the first
 * container too deep, whose path a second walk finds: the first keeps depths only, no path per
 * container.
 */
export const measureInput = (value: unknown, maxDepth: number): InputMeasure => {
  let values = 1
  if (typeof value !== "object" || value === null) return { values }
  const stack: Array<object> = [value]
  const depths: Array<number> = [0]
  let childDepth = 0
  const push = (child: object) => {
    stack.push(child)
    depths.push(childDepth)
  }
  while (stack.length > 0) {
    const current = stack.pop()!
    const depth = depths.pop()!
    if (depth >= maxDepth) return { tooDeepAt: pathTooDeep(value, maxDepth), values }
    childDepth = depth + 1
    values += forEachContainer(current, push)
  }
  return { values }
}

/** Where a value nests arrays and objects more than `maxDepth` deep (see `measureInput`), or undefined. */
export const tooDeepAt = (value: unknown, maxDepth: number): ReadonlyArray<PropertyKey> | undefined =>
  measureInput(value, maxDepth).tooDeepAt

/**
 * Where JSON text nests arrays and objects more than `maxDepth` deep (as `measureInput` counts:
 * the root container is level 0): the offset of the bracket that goes too deep, or undefined.
 * One scan of the text before it is parsed, so that a file nested millions deep is refused
 * without first being built in memory (a 63 MiB file of `[` took 3.3 GB to parse).
 */
export const jsonTextTooDeepAt = (text: string, maxDepth: number): number | undefined => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c)
        i++ // a backslash: the next character is escaped
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return i
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return undefined
}
