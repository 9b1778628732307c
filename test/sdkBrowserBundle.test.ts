import { build } from "esbuild"
import { builtinModules } from "node:module"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

// The SDK runs in browsers: bundled for one, it has no Node built-in and no `ws` (its package.json
// maps `ws` to nothing there; the global WebSocket is used instead).

const root = join(import.meta.dirname, "..")
const builtins = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)])

describe("the SDK's browser bundle", () => {
  it("builds for the browser with no Node built-in and without ws", async () => {
    const result = await build({
      entryPoints: [join(root, "packages/sdk/src/index.ts")],
      bundle: true,
      platform: "browser",
      format: "esm",
      conditions: ["@devmatrix/source"],
      write: false,
      metafile: true,
      logLevel: "silent"
    })
    expect(result.errors).toEqual([])
    const inputs = Object.keys(result.metafile.inputs)
    expect(inputs.some((path) => path.includes("packages/sdk/src/internal/session.ts"))).toBe(true)
    // `(disabled):` is esbuild's empty module for a path the browser field maps to false.
    const ws = inputs.filter((path) => /node_modules\/(\.pnpm\/)?ws[@/]/.test(path))
    expect(ws.filter((path) => !path.startsWith("(disabled):"))).toEqual([])
    const imported = Object.values(result.metafile.inputs).flatMap((input) =>
      input.imports.map((i) => i.path)
    )
    expect(imported.filter((path) => builtins.has(path))).toEqual([])
    // Nothing is left for the browser to load: every import is in the bundle.
    const [output] = Object.values(result.metafile.outputs)
    expect(output?.imports).toEqual([])
  })
})
