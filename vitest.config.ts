import { availableParallelism } from "node:os"
import { defineConfig } from "vitest/config"

// Tests import the workspace packages from source (the "@devmatrix/source" export condition), so
// they need no build; the CLI's child-process tests run the built `dist` after `pnpm build`.
const conditions = ["@devmatrix/source"]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts", "examples/**/*.test.ts"],
    // Vitest runs one file fewer than the cores at once: one on a 2-core CI machine. The end-to-end
    // files spend most of their time waiting on child processes, sockets and simulated latency, so
    // two at a time use such a machine better. DEVMATRIX_TEST_WORKERS sets it.
    maxWorkers: Number(process.env.DEVMATRIX_TEST_WORKERS) || Math.max(2, availableParallelism() - 1),
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
