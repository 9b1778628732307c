import { defineConfig } from "vitest/config"

// Tests import the workspace packages from source (the "@devmatrix/source" export condition), so
// they need no build; the CLI's child-process tests run the built `dist` after `pnpm build`.
const conditions = ["@devmatrix/source"]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
