import { embeddedLayer, storeFromUrl } from "@devmatrix/runtime"
import type { AnthropicModelOptions, PromptCacheChoice, ScriptedModelOptions } from "@devmatrix/runtime"
import type { PriceTable } from "@devmatrix/core"
import { Duration, Effect, Exit, Layer, Logger, Option, Scope } from "effect"
import { budgetCommand, budgetOnHost, parseBudgetArgs, parseHostBudgetArgs } from "./cli/budgetCommand.js"
import { cancelCommand, cancelOnHost, parseCancelArgs, parseHostCancelArgs } from "./cli/cancelCommand.js"
import { cleanupCommand, parseCleanupArgs } from "./cli/cleanupCommand.js"
import { eventsCommand, eventsOnHost, parseEventsArgs, parseHostEventsArgs } from "./cli/eventsCommand.js"
import { hostCommand, parseHostArgs } from "./cli/hostCommand.js"
import { ExitCode, UsageError } from "./cli/exitCodes.js"
import type { Terminal } from "./cli/followPlan.js"
import { hostTargetOf } from "./cli/hostClient.js"
import type { HostTarget } from "./cli/hostClient.js"
import { isMissingStore, noStoreAt } from "./cli/missingStore.js"
import { outputClosed } from "./cli/outputClosed.js"
import { report } from "./cli/report.js"
import { parseHostResumeArgs, parseResumeArgs, resumeCommand, resumeOnHost } from "./cli/resumeCommand.js"
import { parseRunArgs } from "./cli/runArgs.js"
import { prepareRun, runCommand } from "./cli/runCommand.js"
import { parseHostRunArgs, runOnHost } from "./cli/runOnHost.js"
import { parseReviewArgs, reviewCommand } from "./cli/reviewCommand.js"
import { reviewThroughHost } from "./cli/reviewHost.js"
import { parseStatusArgs, statusCommand } from "./cli/statusCommand.js"
import { parseHostStatusArgs, statusOnHost } from "./cli/statusOnHost.js"
import { commandUsage, isCommandName, usage } from "./cli/usage.js"
import { fakeProviderCommand, parseFakeProviderArgs } from "./fakeAnthropic/fakeProviderCommand.js"
import type { CommandName } from "./cli/usage.js"

/** `--help` or `-h` among a command's flags (not after `--`, where arguments are taken as they are). */
const asksForHelp = (args: ReadonlyArray<string>): boolean => {
  const end = args.indexOf("--")
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === "--help" || arg === "-h")
}

const parse = <A>(parser: () => A) =>
  Effect.try({
    try: parser,
    catch: (error) => (error instanceof UsageError ? error : new UsageError((error as Error).message))
  })

interface Command<TArgs extends { readonly store: string }, E, R> {
  /** The arguments, parsed and checked before any store is opened: bad input writes nothing. */
  readonly prepare: Effect.Effect<TArgs, unknown>
  readonly layer: (args: TArgs) => Layer.Layer<R, unknown>
  readonly body: (args: TArgs) => Effect.Effect<number, E, R | Scope.Scope>
  /** What a command that only reads does when its SQLite file does not exist, rather than create it. */
  readonly withoutStore?: (args: TArgs) => Effect.Effect<number, unknown>
}

/**
 * How long the services may take to close once a command has its result. A store that stopped
 * answering (a network partition) can hold a connection's close forever; by then what was committed
 * is stored and the command has said how it ended, so it exits without waiting for the rest.
 */
export const closeDeadline = Duration.seconds(20)

/** Closes `scope`, or gives up on it after `closeDeadline`, saying so on stderr. */
const closeWithin = (
  scope: Scope.CloseableScope,
  exit: Exit.Exit<unknown, unknown>,
  stderr: NodeJS.WritableStream
) =>
  Effect.disconnect(Scope.close(scope, exit)).pipe(
    Effect.timeoutOption(closeDeadline),
    Effect.flatMap((closed) =>
      Option.isSome(closed)
        ? Effect.void
        : Effect.sync(() =>
            stderr.write(
              `devmatrix: the store did not close within ${Duration.format(closeDeadline)}; exiting without it (what was committed is stored)\n`
            )
          )
    )
  )

/**
 * A command: prepare its arguments, then run it on the layer those arguments call for, whose
 * services close within `closeDeadline` of the command's end.
 */
const command = <TArgs extends { readonly store: string }, E, R>(
  spec: Command<TArgs, E, R>,
  stderr: NodeJS.WritableStream
): Effect.Effect<number, unknown> =>
  Effect.flatMap(spec.prepare, (args) => {
    if (spec.withoutStore !== undefined && isMissingStore(args.store)) return spec.withoutStore(args)
    return Effect.acquireUseRelease(
      Scope.make(),
      (scope) =>
        Effect.flatMap(Layer.buildWithScope(spec.layer(args), scope), (services) =>
          // The command's own resources go in the same scope, so they close within the deadline too.
          spec.body(args).pipe(Scope.extend(scope), Effect.provide(services))
        ),
      (scope, exit) => closeWithin(scope, exit, stderr)
    )
  })

/** Runs the `devmatrix` command line; resolves to the exit code. */
export const main = async (
  argv: ReadonlyArray<string>,
  terminal: Terminal = { stdout: process.stdout, stderr: process.stderr }
): Promise<number> => {
  const [name, ...rest] = argv
  const env = process.env
  // From here on a reader that goes away (`devmatrix status | head -2`) ends the command quietly.
  void outputClosed(terminal.stdout)
  void outputClosed(terminal.stderr)
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    terminal.stdout.write(`${usage}\n`)
    return name === undefined ? ExitCode.usage : ExitCode.completed
  }
  if (isCommandName(name) && asksForHelp(rest)) {
    terminal.stdout.write(`${commandUsage(name)}\n`)
    return ExitCode.completed
  }
  const engineLayer = (args: {
    store: string
    scripted?: ScriptedModelOptions
    anthropic?: AnthropicModelOptions
    promptCache?: PromptCacheChoice
    prices?: PriceTable
  }) =>
    embeddedLayer({
      store: args.store,
      prices: args.prices,
      scripted: args.scripted ?? {},
      anthropic: args.anthropic,
      promptCache: args.promptCache
    })
  const storeLayer = (args: { store: string }) => storeFromUrl(args.store)
  const missing = (args: { store: string }) => Effect.fail(noStoreAt(args.store))
  const nothingTo = (what: string, store: string, out: NodeJS.WriteStream) =>
    Effect.sync(() => {
      out.write(`nothing to ${what}: no store at ${store}\n`)
      return ExitCode.completed
    })
  /**
   * A command of plans (DESIGN.md §10): through the SDK to the host its command line names
   * (`--host`, `DEVMATRIX_HOST`), with the same output and exit codes; else on a store.
   */
  const onStoreOrHost = (
    onStore: () => Effect.Effect<number, unknown>,
    onHost: (host: HostTarget) => Effect.Effect<number, unknown>
  ) =>
    Effect.flatMap(
      parse(() => hostTargetOf(rest, env)),
      (host) => (host === undefined ? onStore() : onHost(host))
    )
  const hosted =
    <TArgs>(
      parseArgs: (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv, host: HostTarget) => TArgs,
      body: (args: TArgs, terminal: Terminal) => Effect.Effect<number, unknown>
    ) =>
    (host: HostTarget) =>
      Effect.flatMap(
        parse(() => parseArgs(rest, env, host)),
        (args) => body(args, terminal)
      )
  const programs: Record<CommandName, () => Effect.Effect<number, unknown>> = {
    run: () =>
      onStoreOrHost(
        () =>
          command(
            {
              prepare: parse(() => parseRunArgs(rest, env)).pipe(
                Effect.flatMap((args) => prepareRun(args, env))
              ),
              layer: engineLayer,
              body: (args) => runCommand(args, terminal)
            },
            terminal.stderr
          ),
        hosted(parseHostRunArgs, runOnHost)
      ),
    resume: () =>
      onStoreOrHost(
        () =>
          command(
            {
              prepare: parse(() => parseResumeArgs(rest, env)),
              layer: engineLayer,
              body: (args) => resumeCommand(args, terminal),
              withoutStore: (args) =>
                args.masterplanId !== undefined
                  ? missing(args)
                  : nothingTo("resume", args.store, terminal.stderr)
            },
            terminal.stderr
          ),
        hosted(parseHostResumeArgs, resumeOnHost)
      ),
    events: () =>
      onStoreOrHost(
        () =>
          command(
            {
              prepare: parse(() => parseEventsArgs(rest, env)),
              layer: engineLayer,
              body: (args) => eventsCommand(args, terminal),
              withoutStore: missing
            },
            terminal.stderr
          ),
        hosted(parseHostEventsArgs, eventsOnHost)
      ),
    host: () =>
      command(
        {
          prepare: parse(() => parseHostArgs(rest, env)),
          layer: engineLayer,
          body: (args) => hostCommand(args, terminal)
        },
        terminal.stderr
      ),
    status: () =>
      onStoreOrHost(
        () =>
          command(
            {
              prepare: parse(() => parseStatusArgs(rest, env)),
              layer: storeLayer,
              body: (args) => statusCommand(args, terminal),
              withoutStore: missing
            },
            terminal.stderr
          ),
        hosted(parseHostStatusArgs, statusOnHost)
      ),
    budget: () =>
      onStoreOrHost(
        () =>
          command(
            {
              prepare: parse(() => parseBudgetArgs(rest, env)),
              layer: engineLayer,
              body: (args) => budgetCommand(args, terminal),
              withoutStore: missing
            },
            terminal.stderr
          ),
        hosted(parseHostBudgetArgs, budgetOnHost)
      ),
    cancel: () =>
      onStoreOrHost(
        () =>
          command(
            {
              prepare: parse(() => parseCancelArgs(rest, env)),
              layer: engineLayer,
              body: (args) => cancelCommand(args, terminal),
              withoutStore: missing
            },
            terminal.stderr
          ),
        hosted(parseHostCancelArgs, cancelOnHost)
      ),
    review: () =>
      Effect.flatMap(
        parse(() => parseReviewArgs(rest, env)),
        (args) =>
          args.host !== undefined
            ? reviewThroughHost(args, args.host, terminal)
            : command(
                {
                  prepare: Effect.succeed(args),
                  layer: engineLayer,
                  body: (args) => reviewCommand(args, terminal),
                  withoutStore: missing
                },
                terminal.stderr
              )
      ),
    cleanup: () =>
      command(
        {
          prepare: parse(() => parseCleanupArgs(rest, env)),
          layer: storeLayer,
          body: (args) => cleanupCommand(args, terminal),
          withoutStore: (args) => nothingTo("clean", args.store, terminal.stdout)
        },
        terminal.stderr
      ),
    "fake-provider": () =>
      parse(() => parseFakeProviderArgs(rest)).pipe(
        Effect.flatMap((args) => Effect.scoped(fakeProviderCommand(args, terminal)))
      )
  }
  const program = isCommandName(name) ? programs[name] : undefined
  if (program === undefined) {
    terminal.stderr.write(`devmatrix: unknown command "${name}"\n${usage}\n`)
    return ExitCode.usage
  }
  // The services' logs (a cache that stopped answering, a plan not recovered) go to stderr: stdout
  // carries results, `--json` lines among them.
  const logToStderr = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => {
      const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
      terminal.stderr.write(`devmatrix: ${logLevel.label.toLowerCase()}: ${text}\n`)
    })
  )
  const exit = await Effect.runPromiseExit(program().pipe(Effect.provide(logToStderr)))
  return Exit.isSuccess(exit) ? exit.value : report(exit.cause, terminal)
}
