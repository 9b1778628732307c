/**
 * The DevMatrix runtime: the Effect services that run masterplans. `Engine` owns the actors and
 * journals their events; `ModelProvider` makes model calls; `Store` keeps the journal.
 *
 * @example
 * import { Engine, embeddedLayer } from "@devmatrix/runtime"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const engine = yield* Engine
 *   const id = yield* engine.submit({ name: "demo", atoms: [{ id: "a", instruction: "add two numbers" }] })
 *   return yield* engine.result(id)
 * })
 * Effect.runPromise(program.pipe(Effect.provide(embeddedLayer()), Effect.scoped)).then(console.log)
 */
export {
  AtomNotInReview,
  Engine,
  EngineBase,
  EngineLive,
  MasterplanNotFound,
  MasterplanNotResumable,
  type CommitFollowing,
  type CommitListener,
  type DetachOptions,
  type RecoverOptions,
  type EngineService,
  type EventsOptions,
  type ReviewDecision,
  type Operator,
  type SubmitOptions,
  type TerminalEvent
} from "./Engine.js"
export {
  Atomizer,
  AtomizeError,
  AtomizerLive,
  makeAtomizer,
  syntaxNodeOf,
  type AtomizerService,
  type SourceFile
} from "./Atomizer.js"
export {
  makeValidator,
  ValidateError,
  Validator,
  ValidatorLive,
  type ValidateAtomRequest,
  type ValidatorService
} from "./Validator.js"
export { embeddedLayer, type EmbeddedOptions } from "./embedded.js"
export {
  ModelCallError,
  ModelProvider,
  type ModelProviderService,
  type ModelRequest,
  type ModelResponse,
  type ModelStopReason,
  type ModelUsage
} from "./ModelProvider.js"
export {
  anthropicOptionsFromEnv,
  makeAnthropicModel,
  ModelProviderAnthropic,
  type AnthropicModelOptions
} from "./ModelProviderAnthropic.js"
export {
  makeScriptedModel,
  ModelProviderScripted,
  scriptedCode,
  scriptedRetryAfterMs,
  type LatencyMs,
  type ScriptedModelOptions,
  type ScriptedModelRequest,
  type ScriptedModelService
} from "./ModelProviderScripted.js"
export { herdGuardDefaults } from "./internal/modelGate.js"
export {
  AdmissionQueueFull,
  admissionQueueDefaults,
  defaultSchedulerOptions,
  makeLocalScheduler,
  Scheduler,
  SchedulerLocal,
  SchedulerLocalWith,
  type AdmissionLane,
  type AdmissionQueueState,
  type CallReport,
  type HerdGuardOptions,
  type LaneConfig,
  type ModelLimit,
  type PermitReclaim,
  type QueueClaim,
  type SchedulerOptions,
  type SchedulerService
} from "./Scheduler.js"
export {
  finishedStatuses,
  makeStoreMemory,
  Store,
  StoreError,
  type StoreErrorReason,
  StoreMemory,
  type AtomRow,
  type JournalBatch,
  type Lease,
  type LeaseOutcome,
  type LeaseRequest,
  type MasterplanRecord,
  type NewMasterplan,
  type PhaseRow,
  type StoreService
} from "./Store.js"
export { leaseHolderGone } from "./internal/planLeases.js"
export { defaultStoreUrl, storeFromUrl } from "./StoreLive.js"
export { redactUrl, StorePg } from "./StorePg.js"
export { makeStoreSql } from "./StoreSql.js"
export { StoreSqlite } from "./StoreSqlite.js"
export {
  defaultMemoryEntries,
  makePromptCache,
  PromptCache,
  promptCacheDefaults,
  encodePromptCacheEntry,
  PromptCacheEntryJson,
  PromptCacheError,
  promptCacheKey,
  PromptCacheMemory,
  PromptCacheNone,
  type PromptCacheBackend,
  type PromptCacheEntry,
  type PromptCacheKeyInput,
  type PromptCacheKeyValue,
  type PromptCacheMemoryOptions,
  type PromptCacheOptions,
  type PromptCacheService,
  type PromptCacheStats,
  type PromptCacheUsage,
  type PromptCacheWrite
} from "./PromptCache.js"
export { PromptCacheLive, promptCacheFromOptions, type PromptCacheChoice } from "./PromptCacheLive.js"
export {
  PromptCacheRedis,
  promptCacheRedisDefaults,
  type PromptCacheRedisOptions
} from "./PromptCacheRedis.js"
export { PromptCacheStore, type PromptCacheStoreOptions } from "./PromptCacheStore.js"
export type { PromptCacheRow } from "./Store.js"
export {
  BudgetExceeded,
  CostLedger,
  CostLedgerError,
  CostLedgerLocal,
  makeCostLedgerLocal,
  type CostLedgerService,
  type LedgerSignals,
  type Reservation
} from "./CostLedger.js"
export { Prices, PricesDefault, pricesFrom } from "./Prices.js"
export {
  makeModelProviderFor,
  ModelProviderFor,
  scriptedModel,
  type ProviderChoice
} from "./ModelProviderLive.js"
export {
  type Embedder,
  EmbedderError,
  embedChecked,
  embedderFromPromise,
  hashingEmbedder,
  type PromiseEmbeddingFunction
} from "./Embedder.js"
export {
  embedForStore,
  ExampleStore,
  ExampleStoreError,
  ExampleStoreMemory,
  exampleSearchDefaults,
  makeExampleStoreMemory,
  rankExamples,
  resolveExampleQuery,
  validExamples,
  type ExampleDiversity,
  type ExampleMatch,
  type ExampleQuery,
  type ExampleStoreErrorReason,
  type ExampleStoreMemoryOptions,
  type ExampleStoreService,
  type ResolvedExampleQuery,
  type StoredExample
} from "./ExampleStore.js"
export {
  ExampleStoreChroma,
  exampleStoreChromaDefaults,
  makeExampleStoreChroma,
  type ExampleStoreChromaOptions
} from "./ExampleStoreChroma.js"
export {
  makeWorkspaceMemory,
  Workspace,
  WorkspaceError,
  WorkspaceMemory,
  type CommitOptions,
  type WorkspaceErrorReason,
  type WorkspaceFile,
  type WorkspaceGitOptions,
  type WorkspaceMemoryOptions,
  type WorkspaceService,
  type WriteOptions,
  type WriteOutcome,
  type WrittenFile
} from "./Workspace.js"
export { makeWorkspaceLive, WorkspaceLive, type WorkspaceLiveOptions } from "./WorkspaceLive.js"
