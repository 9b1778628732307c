import { basename } from "node:path"

/**
 * How the user's shell runs devmatrix: `devmatrix`, or through the root package's `devmatrix`
 * script when this process runs under a package script (`pnpm start`), where the binary is not
 * on PATH. pnpm, npm and yarn all set `npm_lifecycle_event` and `npm_execpath` for scripts.
 */
export const invocationOf = (env: NodeJS.ProcessEnv): string => {
  const execPath = env["npm_execpath"]
  if (!env["npm_lifecycle_event"] && !execPath) return "devmatrix"
  const runner = env["npm_config_user_agent"]?.split("/")[0] ?? basename(execPath ?? "")
  if (runner.startsWith("pnpm")) return "pnpm devmatrix"
  if (runner.startsWith("yarn")) return "yarn devmatrix"
  return "npm run devmatrix --"
}

/** A word as the shell reads it back: quoted when it holds spaces, quotes or other special characters. */
export const shellWord = (word: string): string =>
  /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`

/** The command that picks a stopped plan (or, without an id, every one) up again in its store, ready to paste. */
export const resumeCommandLine = (invocation: string, store: string, masterplanId?: string): string =>
  masterplanId?.startsWith("-") === true
    ? // An id that looks like a flag (`--help`) goes after `--`, where it is taken as it is.
      `${invocation} resume --store ${shellWord(store)} -- ${shellWord(masterplanId)}`
    : `${invocation} resume ${masterplanId !== undefined ? `${shellWord(masterplanId)} ` : ""}--store ${shellWord(store)}`

/** The command that sets a plan's budget, ready to paste (`USD` left for the user to fill in). */
export const budgetCommandLine = (invocation: string, store: string, masterplanId: string): string =>
  masterplanId.startsWith("-")
    ? `${invocation} budget --hard USD --store ${shellWord(store)} -- ${shellWord(masterplanId)}`
    : `${invocation} budget ${shellWord(masterplanId)} --hard USD --store ${shellWord(store)}`

/**
 * A command on one plan of a host, ready to paste: `devmatrix events acme/x --follow --host URL`
 * (`flags` name the host: `HostTarget.flags`; `more` goes before them).
 */
export const hostCommandLine = (
  invocation: string,
  command: string,
  plan: { readonly masterplanId: string; readonly flags: string; readonly more?: string }
): string => {
  const more = plan.more !== undefined ? ` ${plan.more}` : ""
  return plan.masterplanId.startsWith("-")
    ? `${invocation} ${command}${more} ${plan.flags} -- ${shellWord(plan.masterplanId)}`
    : `${invocation} ${command} ${shellWord(plan.masterplanId)}${more} ${plan.flags}`
}

/** The command that lists a plan's atoms waiting for review, ready to paste. */
export const reviewListCommandLine = (invocation: string, store: string, masterplanId: string): string =>
  masterplanId.startsWith("-")
    ? `${invocation} review list --store ${shellWord(store)} -- ${shellWord(masterplanId)}`
    : `${invocation} review list ${shellWord(masterplanId)} --store ${shellWord(store)}`
