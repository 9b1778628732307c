/**
 * A concrete syntax tree as the atomizer reads it: plain data, so that the pure logic in core can
 * walk a tree without the parser that built it (the runtime converts tree-sitter's tree into this
 * shape in one cursor pass; a test can write one by hand).
 */
export interface SyntaxNode {
  /** The grammar's node type (`function_declaration`, `identifier`), or the token for anonymous nodes (`;`). */
  readonly type: string
  /** Named nodes are the grammar's rules; anonymous ones are literal tokens (`{`, `;`, `export`). */
  readonly named: boolean
  /** The field this node fills in its parent (`name`, `body`), if any. */
  readonly field: string | undefined
  /** Offset of the first character, in UTF-16 code units (JavaScript string indices). */
  readonly start: number
  /** Offset just past the last character, in UTF-16 code units. */
  readonly end: number
  /** A node the parser inserted to recover from an error (`MISSING ")"`): not in the text. */
  readonly missing: boolean
  readonly children: ReadonlyArray<SyntaxNode>
}

/** The first child filling `field`, if any. */
export const fieldOf = (node: SyntaxNode, field: string): SyntaxNode | undefined =>
  node.children.find((child) => child.field === field)
