// @ts-check
import tseslint from "typescript-eslint"

const nodeBuiltins = ["node:*", "fs", "path", "os", "child_process", "net", "http", "crypto", "process"]

/** core is the pure model: no IO, no Node APIs, no drivers (STYLE.md lesson 1). */
const coreRestrictions = {
  patterns: [
    {
      group: nodeBuiltins,
      message: "packages/core is pure: no Node APIs (IO belongs to runtime).",
      allowTypeImports: true
    },
    {
      group: [
        "@effect/platform*",
        "@effect/sql*",
        "ioredis",
        "ws",
        "@anthropic-ai/*",
        "better-sqlite3",
        "pg"
      ],
      message: "packages/core is pure: drivers and platform modules belong to runtime."
    },
    {
      group: ["@devmatrix/runtime", "@devmatrix/host", "@devmatrix/sdk"],
      message: "core imports nothing of ours."
    },
    {
      group: ["@devmatrix/*/src/*", "@devmatrix/*/internal/*"],
      message: "import a package by its public entry."
    }
  ]
}

export default tseslint.config(
  {
    ignores: [
      "**/dist/**",
      "**/node_modules/**",
      "bench/results/**",
      ".devmatrix/**",
      "packages/*/bin/**",
      // Source files other projects wrote, kept as they are for the atomizer's golden tests.
      "**/test/fixtures/**",
      "eslint.config.js"
    ]
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ["./tsconfig.test.json", "./packages/*/tsconfig.json"],
        tsconfigRootDir: import.meta.dirname
      }
    },
    rules: {
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { considerDefaultExhaustiveForUnions: true }
      ],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/no-redundant-type-constituents": "off",
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["@devmatrix/*/src/*", "@devmatrix/*/internal/*"],
              message: "import a package by its public entry."
            }
          ]
        }
      ]
    }
  },
  { files: ["packages/core/src/**/*.ts"], rules: { "no-restricted-imports": ["error", coreRestrictions] } },
  {
    files: ["packages/sdk/src/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["@devmatrix/runtime", "@devmatrix/host", "@devmatrix/*/src/*"],
              message: "sdk depends on core only."
            }
          ]
        }
      ]
    }
  },
  { files: ["packages/*/src/**/*.ts"], rules: { "no-console": "error" } }
)
