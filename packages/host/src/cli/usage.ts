import { defaultClaudeModel } from "./runArgs.js"

/** Each command's synopsis, as the usage text, `devmatrix <command> --help` and bad usage show it. */
export const synopsis = {
  run: `devmatrix run <plan.json> [--json] [--store URL] [--budget USD] [--model NAME] [--concurrency N]
              [--mode eager|waves] [--id ID] [--redis URL] [--no-cache] [--prices FILE]
              [--seed N] [--latency-ms MS|MIN-MAX] [--fault-rate P]   (the scripted model's behaviour)
devmatrix run <plan.json> --host URL --token T [--json] [--budget USD] [--model NAME] [--concurrency N]
              [--mode eager|waves] [--id ID]   (submitted to a host, followed there)`,
  resume: `devmatrix resume [<masterplanId>] [--store URL] [--json] [--redis URL] [--no-cache]
devmatrix resume <masterplanId> --host URL --token T [--json]   (a plan paused in the host)`,
  status: "devmatrix status [<masterplanId>] [--store URL | --host URL --token T] [--json]",
  events: "devmatrix events <masterplanId> [--from-seq N] [--follow] [--store URL | --host URL --token T]",
  review: `devmatrix review list [<masterplanId>] [--json] [--store URL]
devmatrix review approve [<masterplanId>] <atomId> [--by NAME] [--store URL]
devmatrix review edit [<masterplanId>] <atomId> --file F [--by NAME] [--store URL]
devmatrix review reject [<masterplanId>] <atomId> --reason TEXT [--by NAME] [--store URL]
              (journaled; then resume. Through a host: --host URL --token T, without --by)`,
  budget: `devmatrix budget <masterplanId> --hard USD [--soft USD] [--store URL]   (journaled; then resume)
devmatrix budget <masterplanId> --hard USD --host URL --token T   (soft limit 80%; then resume)`,
  cancel: "devmatrix cancel <masterplanId> [--reason TEXT] [--store URL | --host URL --token T]",
  host: `devmatrix host [--port 7420] [--listen ADDRESS] [--tokens FILE] [--store URL] [--redis URL] [--no-cache]
              [--prices FILE] [--seed N] [--latency-ms MS|MIN-MAX] [--fault-rate P]
              (WebSocket API at /ws, /healthz /readyz /metrics; tokens from FILE or DEVMATRIX_TOKENS)`,
  cleanup: "devmatrix cleanup --older-than AGE [--store URL]   (AGE: 7d, 12h, 30m, 45s)",
  "fake-provider": `devmatrix fake-provider [--port P] [--api-key K] [--latency-ms MS|MIN-MAX] [--fault-rate P]
              [--faults KIND[:N],...] [--seed N] [--rpm N] [--itpm N] [--otpm N] [--billing-log FILE]
              (a local Messages API for ANTHROPIC_BASE_URL; prints it, serves until Ctrl-C)`
} as const
export type CommandName = keyof typeof synopsis

export const isCommandName = (name: string): name is CommandName => Object.hasOwn(synopsis, name)

const notes = `--store: memory:, sqlite:<path> (default sqlite:.devmatrix/devmatrix.db) or postgres://...
         (or DEVMATRIX_STORE).
--prices FILE (or DEVMATRIX_PRICES): a price table (JSON) whose models replace or add to the built-in ones.
--model: scripted (offline) or a Claude model of the price table; with ANTHROPIC_API_KEY (or
         ANTHROPIC_BASE_URL) set, a plan that names no model uses ${defaultClaudeModel}.
--host URL --token T (or DEVMATRIX_HOST, DEVMATRIX_TOKEN): run, resume, status, events, review, budget
         and cancel go through the SDK to a devmatrix host (ws://, wss://, http:// or https://), with the
         same output; Ctrl-C stops following, not the plan. A store's flags (--store, --redis, --prices...)
         are refused.
Exit codes: 0 completed, 1 failed, 2 bad usage or input (with --host: a refused token or role, a
plan not found or in the wrong state), 3 paused on budget, 4 gate failed,
5 the store could not be written (state as stored: devmatrix resume continues it), or the host could
not be reached or was lost,
6 waiting for review (nothing else can run; state saved: devmatrix review, then resume),
130 interrupted (Ctrl-C, SIGTERM or SIGHUP; state saved: devmatrix resume continues it; with --host the
plan runs on in the host).`

const indent = (text: string): string => text.replaceAll(/^/gm, "  ")

/** Every command, the store URLs and the exit codes: `devmatrix --help`. */
export const usage = `usage:\n${Object.values(synopsis).map(indent).join("\n")}\n\n${notes}`

/** One command, the store URLs and the exit codes: `devmatrix <command> --help`. */
export const commandUsage = (name: CommandName): string => `usage:\n${indent(synopsis[name])}\n\n${notes}`
