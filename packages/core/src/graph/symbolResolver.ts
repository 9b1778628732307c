import type { ImportBinding, SourceAtom } from "../atom/SourceAtom.js"
import type { Language } from "../schema/Atom.js"
import { resolveModule } from "./resolveModule.js"

/**
 * How the names of a project's files resolve to the atoms that define them, through imports,
 * re-exports (and chains of them) and star exports. Internal to `buildSymbolGraph`.
 */

/** A file's atoms as the resolver indexes them. */
export interface IndexedFile {
  readonly path: string
  readonly language: Language
  readonly atoms: ReadonlyArray<SourceAtom>
  /** The index of its first atom among the project's atoms. */
  readonly first: number
}

/** What a name stands for. */
export type Target =
  /** An atom of the project (`index` among all atoms) of `file`, defining `name`. */
  | { readonly kind: "atom"; readonly index: number; readonly name: string; readonly file: string }
  /** A whole module of the project (a namespace import, a Python `import m`). */
  | { readonly kind: "module"; readonly file: string }
  /** A package outside the project: `name` is what is taken from it (`*`: all of it). */
  | { readonly kind: "external"; readonly module: string; readonly name: string }
  /** An import of the project that names no file, or a name its file does not have. */
  | { readonly kind: "missing"; readonly module: string; readonly name: string }

interface FileNames {
  readonly file: IndexedFile
  /** Names defined by its own atoms (not through an import), to the atom's index. */
  readonly defined: ReadonlyMap<string, number>
  /** Local names its imports bind. */
  readonly bindings: ReadonlyMap<string, ImportBinding>
  /** Names it exports from another module or under another name. */
  readonly reexports: ReadonlyMap<string, ImportBinding>
  /** Modules all of whose names it passes on (`export * from`, Python `from m import *`). */
  readonly stars: ReadonlyArray<string>
}

const indexNames = (file: IndexedFile): FileNames => {
  const defined = new Map<string, number>()
  const bindings = new Map<string, ImportBinding>()
  const reexports = new Map<string, ImportBinding>()
  const stars: Array<string> = []
  file.atoms.forEach((atom, i) => {
    const bound = new Set<string>()
    for (const binding of atom.imports) {
      if (binding.from !== "") bound.add(binding.local)
      if (binding.local === "*") stars.push(binding.from)
      else if (binding.reexport) {
        if (!reexports.has(binding.local)) reexports.set(binding.local, binding)
      } else if (binding.local !== "" && !bindings.has(binding.local)) bindings.set(binding.local, binding)
    }
    for (const name of atom.defines)
      if (!bound.has(name) && !defined.has(name)) defined.set(name, file.first + i)
  })
  return { file, defined, bindings, reexports, stars }
}

/** The resolver of one project: its files, by path. */
export interface SymbolResolver {
  /** What `name`, as written in `path`, stands for; undefined when nothing there binds it. */
  readonly local: (path: string, name: string) => Target | undefined
  /** What module `path` exports as `name`; undefined when it does not. */
  readonly exported: (path: string, name: string) => Target | undefined
  /** The atom `path` defines `name` with (`Parser.parse`), if any. */
  readonly definition: (path: string, name: string) => number | undefined
}

const directoryOf = (path: string): string => path.slice(0, Math.max(0, path.lastIndexOf("/")))

export const makeSymbolResolver = (files: ReadonlyArray<IndexedFile>): SymbolResolver => {
  const byPath = new Map(files.map((file) => [file.path, indexNames(file)]))
  const paths: ReadonlySet<string> = new Set(byPath.keys())
  const moduleOf = (names: FileNames, specifier: string) =>
    resolveModule(names.file.language, paths, names.file.path, specifier)

  const binding = (names: FileNames, taken: ImportBinding, seen: Set<string>): Target => {
    const path = moduleOf(names, taken.from)
    if (path === "external") return { kind: "external", module: taken.from, name: taken.imported }
    if (path === undefined) return { kind: "missing", module: taken.from, name: taken.imported }
    if (taken.imported === "*" || taken.imported === "") return { kind: "module", file: path }
    return (
      exported(path, taken.imported, seen) ?? { kind: "missing", module: taken.from, name: taken.imported }
    )
  }

  const local = (path: string, name: string, seen: Set<string>): Target | undefined => {
    const names = byPath.get(path)
    if (names === undefined) return undefined
    const own = names.defined.get(name)
    if (own !== undefined) return { kind: "atom", index: own, name, file: path }
    const taken = names.bindings.get(name)
    if (taken !== undefined) return binding(names, taken, seen)
    if (names.file.language === "python") return throughStars(names, name, seen)
    return undefined
  }

  const throughStars = (names: FileNames, name: string, seen: Set<string>): Target | undefined => {
    for (const star of names.stars) {
      const path = moduleOf(names, star)
      if (path === undefined || path === "external") continue
      const found = exported(path, name, seen)
      if (found !== undefined && found.kind !== "missing") return found
    }
    return undefined
  }

  const exported = (path: string, name: string, seen: Set<string>): Target | undefined => {
    const key = `${path}\u0000${name}`
    const names = byPath.get(path)
    if (names === undefined || seen.has(key)) return undefined
    seen.add(key)
    const again = names.reexports.get(name)
    if (again !== undefined)
      return again.from === "" ? local(path, again.imported, seen) : binding(names, again, seen)
    const found = local(path, name, seen) ?? throughStars(names, name, seen)
    if (found !== undefined) return found
    // `from pkg import mod`: a submodule of a package.
    if (names.file.language === "python" && path.endsWith("__init__.py")) {
      const directory = directoryOf(path)
      const submodule = `${directory === "" ? "" : `${directory}/`}${name}`
      for (const candidate of [`${submodule}.py`, `${submodule}/__init__.py`])
        if (byPath.has(candidate)) return { kind: "module", file: candidate }
    }
    return undefined
  }

  return {
    local: (path, name) => local(path, name, new Set()),
    exported: (path, name) => exported(path, name, new Set()),
    definition: (path, name) => byPath.get(path)?.defined.get(name)
  }
}
