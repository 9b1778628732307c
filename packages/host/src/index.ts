/**
 * The standalone DevMatrix process: the `devmatrix` command line.
 *
 * @example
 * import { main } from "@devmatrix/host"
 * process.exitCode = await main(["run", "examples/plans/todo-api.json", "--json"])
 */
export { main } from "./main.js"
export { ExitCode } from "./cli/exitCodes.js"
