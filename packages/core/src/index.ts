/**
 * The pure model of DevMatrix: schemas (the single source of truth for types, validation and the
 * wire), the atom, wave and masterplan statecharts, and the graph, retry and cost algorithms.
 * Nothing here performs IO; the runtime supplies every side effect.
 *
 * @example
 * import { buildPlanGraph, decodePlanInput } from "@devmatrix/core"
 * import { Either } from "effect"
 *
 * const plan = decodePlanInput({ name: "demo", atoms: [{ id: "a", instruction: "add" }] })
 * if (Either.isRight(plan)) console.log(buildPlanGraph(plan.right.atoms))
 */
export { checkAtomContract, type AtomContract } from "./atom/checkAtomContract.js"
export { assembleAtoms } from "./atom/assembleAtoms.js"
export { atomizeTree, type AtomizeOptions, type ParsedSource } from "./atom/atomizeTree.js"
export {
  firstSyntaxError,
  syntaxErrors,
  type SyntaxErrorNode,
  type SyntaxErrorSite
} from "./atom/firstSyntaxError.js"
export { findPlaceholders, type PlaceholderSite } from "./atom/findPlaceholders.js"
export {
  frameAtomCode,
  positionInCode,
  type AtomCode,
  type AtomParent,
  type FramedCode,
  type Position
} from "./atom/frameAtomCode.js"
export { knownGlobals } from "./atom/knownGlobals.js"
export { validateAtom, type AtomValidationRequest, type ParseSource } from "./atom/validateAtom.js"
export {
  AtomValidation,
  ValidationLevel,
  ValidationProblem,
  validationPassed
} from "./atom/AtomValidation.js"
export {
  defaultAtomMaxLines,
  ImportBinding,
  SourceAtom,
  SourceAtomKind,
  SourceSpan
} from "./atom/SourceAtom.js"
export { fieldOf, type SyntaxNode } from "./atom/SyntaxNode.js"
export {
  BudgetLedger,
  type BudgetLevel,
  type CommittedCost,
  type LedgerBudget,
  type LedgerReservation,
  type LedgerSignal,
  type LedgerStep,
  type LedgerTotals,
  type ReservationScope,
  type ReserveOutcome
} from "./cost/budgetLedger.js"
export { defaultPriceTable } from "./cost/defaultPriceTable.js"
export { estimateInputTokens, utf8ByteLength, type PromptParts } from "./cost/estimateInputTokens.js"
export { nanosOfUsd, nanosPerToken, nanosPerUsd, usdOfNanos } from "./cost/money.js"
export {
  costBreakdown,
  costBreakdownNanos,
  costOf,
  costOfUsage,
  ratesFor,
  worstCaseUsd,
  type CostBreakdown,
  type TokenUsage
} from "./cost/pricing.js"
export {
  findModelPrice,
  LongContextPrice,
  loadPriceTable,
  mergePriceTables,
  ModelPrice,
  namesOf,
  PriceTable,
  unknownModelMessage,
  UsdPerMTok
} from "./cost/PriceTable.js"
export { buildPlanGraph, type PlanGraph } from "./graph/buildPlanGraph.js"
export {
  buildSymbolGraph,
  type BrokenCycle,
  type ExternalUse,
  type SymbolEdge,
  type SymbolGraph,
  type SymbolGraphAtom,
  type SymbolGraphFile,
  type UseTiming
} from "./graph/buildSymbolGraph.js"
export { symbolGraphPlanAtoms } from "./graph/symbolGraphPlanAtoms.js"
export { SymbolGraphError } from "./graph/SymbolGraphError.js"
export { normalizePath, resolveModule } from "./graph/resolveModule.js"
export { compilePlan, isCompiledPlan, type CompiledPlan } from "./graph/compilePlan.js"
export {
  projectEvents,
  type AtomRowChange,
  type ReviewedRow,
  type CostCommit,
  type JournalProjection,
  type PhaseChange
} from "./journal/projectEvents.js"
export { findCycle } from "./graph/findCycle.js"
export { PlanGraphError } from "./graph/PlanGraphError.js"
export { transitiveDependents } from "./graph/transitiveDependents.js"
export {
  atomMachine,
  defaultMaxThrottledMs,
  type AtomActor,
  type AtomCommand,
  type AtomMachine,
  type AtomMachineInput,
  type AtomMachineOutput,
  type AtomOutcome,
  type AttemptFailure,
  type BackoffInput,
  type CallModelReport,
  type ModelCallInput,
  type ModelCallOutput
} from "./machines/atomMachine.js"
export {
  masterplanMachine,
  type ExecutionOutput,
  type MasterplanActor,
  type MasterplanCommand,
  type MasterplanMachine,
  type MasterplanMachineInput,
  type PhaseOutput
} from "./machines/masterplanMachine.js"
export {
  waveMachine,
  type WaveActor,
  type WaveCommand,
  type WaveMachine,
  type WaveMachineInput
} from "./machines/waveMachine.js"
export {
  classifyModelFailure,
  parseRetryAfterMs,
  type ClassifiedFailure,
  type FailedCall
} from "./retry/classifyModelFailure.js"
export { ModelFailure, ModelFailureReason, ModelFailureScope } from "./retry/ModelFailure.js"
export { parseRateLimitSignal, type RateLimitBucket, type RateLimitSignal } from "./retry/rateLimitSignal.js"
export {
  buildAtomPrompt,
  extractCode,
  type AtomPrompt,
  type AtomPromptOptions,
  type AtomPromptRequest,
  type CacheTtl,
  type PromptTextBlock
} from "./prompt/buildAtomPrompt.js"
export { retryDelayMs, type RetryStep } from "./retry/retryDelayMs.js"
export { Example, exampleEmbeddingText, ExampleKind } from "./retrieval/Example.js"
export {
  codeFeatures,
  hashingEmbedding,
  hashingEmbeddingDefaults,
  splitIdentifier,
  type HashingEmbeddingOptions
} from "./retrieval/hashingEmbedding.js"
export {
  cosineSimilarity,
  maximalMarginalRelevance,
  mmrDefaults,
  type MmrCandidate,
  type MmrOptions,
  type MmrPick
} from "./retrieval/mmr.js"
export { priorityOf, ReadyQueue } from "./scheduling/ReadyQueue.js"
export { WaveReadyQueue } from "./scheduling/WaveReadyQueue.js"
export { QueueSlots, type QueueClaim } from "./scheduling/QueueSlots.js"
export { tokenBucket, type TokenBucket, type TokenBucketSpec } from "./scheduling/tokenBucket.js"
export {
  erasePolicyState,
  staticLimiter,
  type CallClass,
  type CallObservation,
  type LimitChange,
  type LimiterPolicy,
  type LimiterStep,
  type TokenDemand
} from "./scheduling/limiterPolicy.js"
export { withOverloadHold, type OverloadHoldState } from "./scheduling/overloadHold.js"
export { callClassOf } from "./scheduling/callClassOf.js"
export {
  adaptiveLimiter,
  defaultLimiterSettings,
  type AdaptiveLimiterSettings,
  type AdaptiveLimiterState
} from "./scheduling/adaptiveLimiter.js"
export {
  defaultLatencyAimdSettings,
  latencyAimdLimiter,
  type LatencyAimdSettings,
  type LatencyAimdState
} from "./scheduling/latencyAimdLimiter.js"
export { latencyWindow, type LatencyWindow, type WindowCheck } from "./scheduling/latencyWindow.js"
export { type BucketLimits, type BucketName, type BucketSet } from "./scheduling/limiterBuckets.js"
export {
  Atom,
  AtomResult,
  AtomSimulation,
  AtomSpec,
  AtomStatus,
  Language,
  listOf,
  SimulatedFault,
  terminalAtomStatuses
} from "./schema/Atom.js"
export { AtomInput, checkAtomInput, type JsonObject, type JsonValue } from "./schema/AtomInput.js"
export { Budget, softLimitUsd } from "./schema/Budget.js"
export {
  maxAgeMs,
  maxAtomInputLength,
  maxAtoms,
  maxConcurrency,
  maxDurationMs,
  maxEchoLength,
  maxIdLength,
  maxInputDepth,
  maxListLength,
  maxNameLength,
  maxPathLength,
  maxPlanFileBytes,
  maxProblemLength,
  maxReportedProblems,
  maxRetries,
  maxRetryFactor,
  maxSeq,
  maxTextLength,
  maxUsd,
  maxValuesSearched
} from "./schema/inputLimits.js"
export { jsonTextTooDeepAt, measureInput, tooDeepAt, type InputMeasure } from "./schema/inputDepth.js"
export { referenceProblems } from "./schema/planReferences.js"
export { DurationMs, numberIn, PositiveDurationMs, PositiveUsd } from "./schema/PlanNumber.js"
export {
  FilePath,
  FreeText,
  freeTextProblem,
  Id,
  idProblem,
  Name,
  NonEmptyFreeText
} from "./schema/PlanText.js"
export {
  ApproveCommand,
  CancelCommand,
  Command,
  CommandId,
  commandSchemas,
  EditCommand,
  FromSeq,
  GetCommand,
  HelloCommand,
  ListCommand,
  maxCommandIdLength,
  maxTokenLength,
  PauseCommand,
  RaiseBudgetCommand,
  RejectCommand,
  ResumeCommand,
  ReviewListCommand,
  SubmitCommand,
  UnwatchCommand,
  WatchCommand,
  type CommandEncoded,
  type CommandType
} from "./protocol/Command.js"
export {
  decodeCommand,
  decodeFrame,
  defaultMaxFrameBytes,
  encodeEventFrame,
  encodeFrame,
  encodeWireFrame,
  errorReplyOf,
  Frame,
  ProtocolError,
  type DecodeFrameOptions,
  type FrameEncoded
} from "./protocol/Frame.js"
export {
  AckReply,
  ErrorCode,
  ErrorReply,
  EventReply,
  maxErrorMessageLength,
  Reply,
  type ReplyEncoded
} from "./protocol/Reply.js"
export {
  CloseCode,
  commandResults,
  MasterplanListing,
  MasterplanView,
  Principal,
  ReviewItem,
  Role,
  webSocketPath,
  type CommandResult
} from "./protocol/Result.js"
export { emptySummary } from "./schema/emptySummary.js"
export { Event, isTerminalEvent, type EventBody, type EventOf, type EventType } from "./schema/Event.js"
export { Masterplan, MasterplanStatus, PhaseStatus, PipelinePhase } from "./schema/Masterplan.js"
export { MasterplanSpec, PlanInput, RequestSpec, type PlanInputEncoded } from "./schema/PlanInput.js"
export {
  decodeInput,
  decodePlanInput,
  PlanInputError,
  planProblems,
  problemsOf,
  runOptionProblems,
  type InputProblem
} from "./schema/PlanInputError.js"
export { cut } from "./schema/problemsOf.js"
export { Requirement, RequirementPriority } from "./schema/Requirement.js"
export { RetryPolicy } from "./schema/RetryPolicy.js"
export {
  permitLeaseMarginMs,
  permitLeaseMsOf,
  RunOptions,
  RunOptionsAsGiven,
  ScheduleMode,
  ScriptedBehaviour,
  type RunOptionsInput
} from "./schema/RunOptions.js"
export { AtomCounts, AtomFailure, RunOutcome, RunSummary } from "./schema/RunSummary.js"
export { Milestone, Phase, Task } from "./schema/Task.js"
export { Wave, WaveCounts, WaveStatus } from "./schema/Wave.js"
export { hashString, seededRandom } from "./random/seededRandom.js"
export {
  checkRelativePath,
  maxSegmentBytes,
  type PathRefusal,
  type PathRule
} from "./workspace/checkRelativePath.js"
export { decideWrite, type WriteDecision } from "./workspace/decideWrite.js"
export { defaultGitAuthor, parseGitAuthor, type GitAuthor } from "./workspace/parseGitAuthor.js"
export { overloadHoldMs, providerReactionTo, type ProviderReaction } from "./retry/providerReaction.js"
