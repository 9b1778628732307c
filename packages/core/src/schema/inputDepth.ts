/**
 * Where a value nests arrays and objects more than `maxDepth` deep: the path of the first
 * container past the limit, or undefined. It walks without recursion, so that no input can
 * overflow the stack here, and schemas (and their error reports, which recurse) only ever see
 * values of bounded depth. A cyclic value (given in process) is found too deep.
 */
export const tooDeepAt = (value: unknown, maxDepth: number): ReadonlyArray<PropertyKey> | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  const stack: Array<readonly [object, ReadonlyArray<PropertyKey>]> = [[value, []]]
  while (stack.length > 0) {
    const [current, path] = stack.pop()!
    if (path.length >= maxDepth) return path
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--)
        if (typeof current[i] === "object" && current[i] !== null)
          stack.push([current[i] as object, [...path, i]])
    } else
      for (const key of Object.keys(current).reverse()) {
        const child = (current as Record<string, unknown>)[key]
        if (typeof child === "object" && child !== null) stack.push([child, [...path, key]])
      }
  }
  return undefined
}
