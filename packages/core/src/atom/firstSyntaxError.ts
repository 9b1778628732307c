import type { SyntaxNode } from "./SyntaxNode.js"

/** Where a tree first fails to parse: the first `ERROR` or `MISSING` node in document order. */
export interface SyntaxErrorSite {
  /** `ERROR` (text the grammar could not place) or `MISSING` (a token it had to invent). */
  readonly problem: "ERROR" | "MISSING"
  /** The node's type: for `MISSING` the token that is missing (`)`, `identifier`). */
  readonly type: string
  /** Offset in UTF-16 code units. */
  readonly offset: number
  /** Offset just past the node (for `MISSING`, the same as `offset`: it has no text). */
  readonly end: number
}

/**
 * The first syntax error of a tree (validation level 1: no `ERROR` or `MISSING` node), or
 * undefined when it parsed cleanly.
 */
export const firstSyntaxError = (root: SyntaxNode): SyntaxErrorSite | undefined => {
  const stack: Array<SyntaxNode> = [root]
  while (stack.length > 0) {
    const node = stack.pop()!
    if (node.type === "ERROR") return { problem: "ERROR", type: node.type, offset: node.start, end: node.end }
    if (node.missing) return { problem: "MISSING", type: node.type, offset: node.start, end: node.end }
    for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]!)
  }
  return undefined
}

/** A syntax error with its node, for a caller that looks inside it. */
export interface SyntaxErrorNode extends SyntaxErrorSite {
  readonly node: SyntaxNode
}

/**
 * Every syntax error of a tree in document order: each `ERROR` node (not looking inside it, where
 * the parser's recovery would only repeat it) and each `MISSING` node, at most `limit` of them.
 */
export const syntaxErrors = (root: SyntaxNode, limit = 10): Array<SyntaxErrorNode> => {
  const sites: Array<SyntaxErrorNode> = []
  const stack: Array<SyntaxNode> = [root]
  while (stack.length > 0 && sites.length < limit) {
    const node = stack.pop()!
    if (node.type === "ERROR")
      sites.push({ problem: "ERROR", type: node.type, offset: node.start, end: node.end, node })
    else if (node.missing)
      sites.push({ problem: "MISSING", type: node.type, offset: node.start, end: node.end, node })
    else for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]!)
  }
  return sites
}
