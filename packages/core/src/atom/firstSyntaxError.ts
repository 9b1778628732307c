import type { SyntaxNode } from "./SyntaxNode.js"

/** Where a tree first fails to parse: the first `ERROR` or `MISSING` node in document order. */
export interface SyntaxErrorSite {
  /** `ERROR` (text the grammar could not place) or `MISSING` (a token it had to invent). */
  readonly problem: "ERROR" | "MISSING"
  /** The node's type: for `MISSING` the token that is missing (`)`, `identifier`). */
  readonly type: string
  /** Offset in UTF-16 code units. */
  readonly offset: number
}

/**
 * The first syntax error of a tree (validation level 1: no `ERROR` or `MISSING` node), or
 * undefined when it parsed cleanly.
 */
export const firstSyntaxError = (root: SyntaxNode): SyntaxErrorSite | undefined => {
  const stack: Array<SyntaxNode> = [root]
  while (stack.length > 0) {
    const node = stack.pop()!
    if (node.type === "ERROR") return { problem: "ERROR", type: node.type, offset: node.start }
    if (node.missing) return { problem: "MISSING", type: node.type, offset: node.start }
    for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]!)
  }
  return undefined
}
