/**
 * The real `@anthropic-ai/sdk`, as packages/runtime depends on it. Neither the root nor
 * packages/host lists the SDK (no dependency is added for tests), so it is imported from where
 * pnpm installed it for runtime: the same package, the same version the provider uses.
 */
export { default as Anthropic } from "../../../runtime/node_modules/@anthropic-ai/sdk/index.mjs"
export * from "../../../runtime/node_modules/@anthropic-ai/sdk/index.mjs"
