import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { expect, it } from "vitest"
import { runGreeter } from "./ownProvider.js"

it("the README's provider of one's own receives each atom's input, and the plan completes", async () => {
  expect(await Effect.runPromise(runGreeter)).toEqual([
    'hiAda (completed): export const hiAda = "Hello, Ada!"\n',
    'hiAlan (completed): export const hiAlan = "Hello, Alan!"\n'
  ])
})

it("the README shows the example as it is, from its imports to the plan it runs", () => {
  const example = readFileSync(new URL("./ownProvider.ts", import.meta.url), "utf8")
  const shown = example.slice(example.indexOf("\nimport ") + 1, example.indexOf("\nif (import.meta.url"))
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
  expect(shown).toContain("Layer.succeed(ModelProvider")
  expect(readme).toContain(`\`\`\`ts\n${shown}\`\`\``)
})
