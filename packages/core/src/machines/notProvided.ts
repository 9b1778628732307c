/**
 * The body of a side-effect actor that core declares and runtime must provide with
 * `machine.provide({ actors })`; reaching it is a wiring bug, so it fails loudly.
 */
export const notProvided = (name: string) => (): never => {
  throw new Error(
    `the "${name}" actor was not provided: bind it with machine.provide({ actors: { ${name} } })`
  )
}
