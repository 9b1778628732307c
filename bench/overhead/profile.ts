import { readFileSync } from "node:fs"

interface ProfileNode {
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
    readonly columnNumber: number
  }
  readonly hitCount?: number
}

const readNodes = (profilePath: string): ReadonlyArray<ProfileNode> =>
  (JSON.parse(readFileSync(profilePath, "utf8")) as { nodes: ReadonlyArray<ProfileNode> }).nodes

/** A profile node's call frame: its function and where it lives. */
export type CallFrame = ProfileNode["callFrame"]

/** Which part of the engine's stack a frame belongs to. */
export const partOf = ({ url, functionName }: CallFrame): string =>
  functionName === "(garbage collector)"
    ? "garbage collection"
    : functionName === "(idle)" || functionName === "(program)"
      ? "idle / V8 internals"
      : url.includes("/@effect/sql") || url.includes("better-sqlite3")
        ? "store driver"
        : url.includes("/xstate/")
          ? "XState (actors, transitions)"
          : url.includes("/effect/")
            ? "Effect (fibers, runtime)"
            : url.includes("packages/runtime")
              ? "DevMatrix runtime (engine, journal)"
              : url.includes("packages/core")
                ? "DevMatrix core (machines' actions, queue)"
                : url.startsWith("node:") || url === ""
                  ? "Node.js internals (promises, timers)"
                  : "other"

/** Self time grouped by `keyOf` its frame: [key, share of samples], largest first. */
export const timeBy = (
  profilePath: string,
  keyOf: (frame: CallFrame) => string
): ReadonlyArray<[string, number]> => shares(readNodes(profilePath), (node) => keyOf(node.callFrame))

/** Self time grouped by where the code lives: [part, share of samples], largest first. */
export const timeByPart = (profilePath: string): ReadonlyArray<[string, number]> =>
  timeBy(profilePath, partOf)

/**
 * A file URL cut to what names it: the package and its path inside (`xstate/dist/…`), or the
 * repository path (`packages/runtime/dist/…`), with the 1-based line.
 */
const shortLocation = ({ url, lineNumber }: ProfileNode["callFrame"]): string => {
  if (url === "") return "(native)"
  const path = url.replace(/^file:\/\//, "")
  const modules = path.lastIndexOf("/node_modules/")
  const repo = path.indexOf("/packages/")
  const short =
    modules >= 0
      ? path.slice(modules + "/node_modules/".length)
      : repo >= 0
        ? path.slice(repo + 1)
        : path.split("/").slice(-2).join("/")
  return `${short}:${lineNumber + 1}`
}

export interface HotFunction {
  readonly name: string
  readonly location: string
  readonly share: number
}

/** The `count` functions with the most self time (one row per function, however many call sites). */
export const topFunctions = (profilePath: string, count: number): ReadonlyArray<HotFunction> =>
  shares(readNodes(profilePath), (node) =>
    JSON.stringify([node.callFrame.functionName || "(anonymous)", shortLocation(node.callFrame)])
  )
    .slice(0, count)
    .map(([key, share]) => {
      const [name, location] = JSON.parse(key) as [string, string]
      return { name, location, share }
    })

const shares = (
  nodes: ReadonlyArray<ProfileNode>,
  keyOf: (node: ProfileNode) => string
): Array<[string, number]> => {
  const hits = new Map<string, number>()
  let total = 0
  for (const node of nodes) {
    const n = node.hitCount ?? 0
    total += n
    const key = keyOf(node)
    hits.set(key, (hits.get(key) ?? 0) + n)
  }
  return [...hits.entries()].map(([key, n]): [string, number] => [key, n / total]).sort((a, b) => b[1] - a[1])
}
