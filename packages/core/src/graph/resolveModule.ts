import type { Language } from "../schema/Atom.js"

/**
 * Which file of a project an import names, by the usual rules and without reading a disk: the
 * project's files are all there is. Paths are POSIX and relative to the project's root (`src/a.ts`).
 */

/** `a/./b/../c` as `a/c`; undefined when it climbs out of the root. */
export const normalizePath = (path: string): string | undefined => {
  const parts: Array<string> = []
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") {
      if (parts.length === 0) return undefined
      parts.pop()
    } else parts.push(part)
  }
  return parts.join("/")
}

const directoryOf = (path: string): string => {
  const slash = path.lastIndexOf("/")
  return slash === -1 ? "" : path.slice(0, slash)
}

const join = (directory: string, path: string): string | undefined =>
  normalizePath(directory === "" ? path : `${directory}/${path}`)

const ecmaExtensions = [".ts", ".tsx", ".mts", ".cts", ".d.ts", ".js", ".jsx", ".mjs", ".cjs"]
/** What a `.js` written in an import may stand for: the TypeScript source compiled to it. */
const compiledFrom: Readonly<Record<string, ReadonlyArray<string>>> = {
  ".js": [".ts", ".tsx"],
  ".jsx": [".tsx"],
  ".mjs": [".mts"],
  ".cjs": [".cts"]
}

/**
 * The project file a TypeScript or JavaScript specifier names, or undefined: `"external"` for a
 * package (a specifier that is not relative). A relative one (`./a`, `../b.js`) is tried as
 * written, with its `.js` read as `.ts` (TypeScript's rule), with each extension added, then as a
 * directory's `index` file.
 */
export const resolveEcmaSpecifier = (
  files: ReadonlySet<string>,
  importer: string,
  specifier: string
): string | "external" | undefined => {
  if (!specifier.startsWith("./") && !specifier.startsWith("../") && specifier !== "." && specifier !== "..")
    return "external"
  const base = join(directoryOf(importer), specifier)
  if (base === undefined) return undefined
  const candidates: Array<string> = [base]
  for (const [written, sources] of Object.entries(compiledFrom))
    if (base.endsWith(written))
      for (const source of sources) candidates.push(base.slice(0, -written.length) + source)
  for (const extension of ecmaExtensions) candidates.push(base + extension)
  for (const extension of ecmaExtensions) candidates.push(`${base === "" ? "" : `${base}/`}index${extension}`)
  return candidates.find((candidate) => files.has(candidate))
}

/** A Python module's file under `directory`: `m.py`, else the package `m/__init__.py`. */
const pythonModuleFile = (
  files: ReadonlySet<string>,
  directory: string,
  dotted: string
): string | undefined => {
  const path = join(directory, dotted.split(".").join("/"))
  if (path === undefined) return undefined
  return [`${path}.py`, `${path === "" ? "" : `${path}/`}__init__.py`].find((candidate) =>
    files.has(candidate)
  )
}

/**
 * The project file a Python module name names, or `"external"`. A relative one (`.m`, `..pkg.m`,
 * `.`) is found from the importing file's package, one level up per extra dot; an absolute one
 * (`pkg.m`) from the root, else from each directory above the importing file (a `src/` layout).
 */
export const resolvePythonModule = (
  files: ReadonlySet<string>,
  importer: string,
  module: string
): string | "external" | undefined => {
  const dots = /^\.*/.exec(module)![0].length
  if (dots > 0) {
    let directory: string | undefined = directoryOf(importer)
    for (let level = 1; level < dots && directory !== undefined; level++)
      directory = directory === "" ? undefined : directoryOf(directory)
    if (directory === undefined) return undefined
    const rest = module.slice(dots)
    if (rest !== "") return pythonModuleFile(files, directory, rest)
    const init = `${directory === "" ? "" : `${directory}/`}__init__.py`
    return files.has(init) ? init : undefined
  }
  const fromRoot = pythonModuleFile(files, "", module)
  if (fromRoot !== undefined) return fromRoot
  for (let directory = directoryOf(importer); directory !== ""; directory = directoryOf(directory)) {
    const found = pythonModuleFile(files, directory, module)
    if (found !== undefined) return found
  }
  return "external"
}

/** The project file `specifier` names in a file of `language`, `"external"`, or undefined. */
export const resolveModule = (
  language: Language,
  files: ReadonlySet<string>,
  importer: string,
  specifier: string
): string | "external" | undefined =>
  language === "python"
    ? resolvePythonModule(files, importer, specifier)
    : resolveEcmaSpecifier(files, importer, specifier)
