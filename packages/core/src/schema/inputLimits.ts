/**
 * The limits of what DevMatrix accepts as input (a plan file, submitted options, the command
 * line). Each bounds the work that checking an input takes and what a store has to hold; a value
 * past one is refused with a message naming its field. Lengths are in UTF-16 code units, as
 * JavaScript counts them (an ASCII character is one, an emoji two).
 */

/** Longest id (atom, requirement, task, milestone, phase, masterplan). */
export const maxIdLength = 256

/** Longest plan name, or title of a task, milestone or phase. */
export const maxNameLength = 1_000

/** Longest file path an atom writes to. */
export const maxPathLength = 4_096

/** Longest free text: an instruction, a description, a requirement's text, a scripted output. */
export const maxTextLength = 1_000_000

/**
 * Longest `input` of an atom, in characters of its compact JSON (`JSON.stringify`): as long as an
 * instruction, since it goes into the prompt beside it.
 */
export const maxAtomInputLength = 1_000_000

/** Most atoms in one plan: twice the largest that tests and benchmarks run. Also bounds its tasks. */
export const maxAtoms = 200_000

/**
 * Most entries of any other list: an atom's `dependsOn` and `defines`, its scripted faults, a
 * requirement's atoms, a plan's requirements, phases and milestones.
 */
export const maxListLength = 10_000

/** Deepest nesting of arrays and objects in an input (a plan needs 5). Checked before decoding. */
export const maxInputDepth = 64

/** Most model calls in flight (`concurrency`). */
export const maxConcurrency = 10_000

/** Longest duration in milliseconds (a call timeout, a retry delay, a scripted latency): one day. */
export const maxDurationMs = 86_400_000

/** Largest amount in USD (a budget or a ceiling). */
export const maxUsd = 1_000_000_000

/** Most retries of one atom. */
export const maxRetries = 1_000

/** Largest backoff factor. */
export const maxRetryFactor = 1_000

/** Highest journal seq a command line may ask for (`--from-seq`): stores keep seq as a 32-bit integer. */
export const maxSeq = 2_147_483_647

/** Longest age a command line may give (`cleanup --older-than`): 100 years. */
export const maxAgeMs = 100 * 365 * 86_400_000

/**
 * Most values (array elements and object properties, counted through every level) in an input
 * whose every problem is looked for. Past it only the first problem is named: finding them all
 * takes time and memory in proportion to their number (5,000,000 bad entries took 33 s and
 * 3.5 GB), and an input within `maxPlanFileBytes` can hold 30,000,000 values. A 100,000-atom plan
 * has about 600,000.
 */
export const maxValuesSearched = 1_000_000

/** Problems of an input reported by name; the rest are counted ("and 99,980 more"). */
export const maxReportedProblems = 20

/** Longest part of an input's value echoed back in a problem (longer ones are cut short with "…"). */
export const maxEchoLength = 80

/** Largest plan file read, in bytes (64 MiB: a 100,000-atom plan is about 8 MB). */
export const maxPlanFileBytes = 64 * 1024 * 1024

/** Longest message of one problem (a value echoed in it is cut to `maxEchoLength` first). */
export const maxProblemLength = 320
