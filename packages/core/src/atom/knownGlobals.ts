import type { Language } from "../schema/Atom.js"

/**
 * Names a language provides without an import, for validation level 3: a symbol an atom uses
 * resolves if it is one of these. The lists are the standard globals of the language (ECMAScript
 * built-ins, the usual host globals of Node and browsers, TypeScript's utility types; Python's
 * builtins module), not of any framework: a name a library provides must be imported.
 */

// prettier-ignore
const ecmaScriptGlobals = [
  // Values and functions of the global object.
  "globalThis", "undefined", "NaN", "Infinity", "eval", "isFinite", "isNaN", "parseFloat", "parseInt",
  "decodeURI", "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "unescape",
  // Constructors and namespaces.
  "Object", "Function", "Boolean", "Symbol", "Error", "AggregateError", "EvalError", "RangeError",
  "ReferenceError", "SyntaxError", "TypeError", "URIError", "Number", "BigInt", "Math", "Date",
  "String", "RegExp", "Array", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array",
  "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array",
  "BigUint64Array", "Map", "Set", "WeakMap", "WeakSet", "WeakRef", "FinalizationRegistry",
  "ArrayBuffer", "SharedArrayBuffer", "DataView", "Atomics", "JSON", "Promise", "Proxy", "Reflect",
  "Intl", "Iterator",
  // Host globals common to Node and browsers.
  "console", "setTimeout", "clearTimeout", "setInterval", "clearInterval", "setImmediate",
  "clearImmediate", "queueMicrotask", "structuredClone", "fetch", "Request", "Response", "Headers",
  "FormData", "URL", "URLSearchParams", "AbortController", "AbortSignal", "Blob", "File",
  "TextEncoder", "TextDecoder", "ReadableStream", "WritableStream", "TransformStream", "Event",
  "EventTarget", "CustomEvent", "MessageChannel", "MessagePort", "BroadcastChannel", "WebSocket",
  "crypto", "performance", "atob", "btoa", "DOMException", "self",
  // A function's own `arguments` (read as an identifier).
  "arguments",
  // Node's globals.
  "process", "Buffer", "global", "require", "module", "exports", "__dirname", "__filename",
  // Browser globals.
  "window", "document", "navigator", "location", "history", "localStorage", "sessionStorage",
  "HTMLElement", "Element", "Node", "alert"
]

// prettier-ignore
const typeScriptTypes = [
  // Primitive type names tree-sitter reads as identifiers in some positions.
  "any", "unknown", "never", "object", "string", "number", "boolean", "bigint", "symbol", "void",
  // Utility types.
  "Partial", "Required", "Readonly", "Record", "Pick", "Omit", "Exclude", "Extract", "NonNullable",
  "Parameters", "ConstructorParameters", "ReturnType", "InstanceType", "ThisParameterType",
  "OmitThisParameter", "ThisType", "Uppercase", "Lowercase", "Capitalize", "Uncapitalize",
  "Awaited", "NoInfer",
  // Interfaces of the standard library.
  "ReadonlyArray", "ReadonlyMap", "ReadonlySet", "PromiseLike", "ArrayLike", "Iterable",
  "IterableIterator", "AsyncIterable", "AsyncIterableIterator", "AsyncIterator", "Generator",
  "AsyncGenerator", "IteratorResult", "PropertyKey", "PropertyDescriptor", "TemplateStringsArray",
  "ArrayBufferLike", "ArrayBufferView", "Disposable", "AsyncDisposable", "NodeJS",
  "RegExpExecArray", "RegExpMatchArray", "BufferEncoding"
]

// prettier-ignore
const pythonBuiltins = [
  // Functions.
  "abs", "aiter", "all", "anext", "any", "ascii", "bin", "breakpoint", "callable", "chr",
  "compile", "delattr", "dir", "divmod", "enumerate", "eval", "exec", "filter", "format",
  "getattr", "globals", "hasattr", "hash", "help", "hex", "id", "input", "isinstance",
  "issubclass", "iter", "len", "locals", "map", "max", "min", "next", "oct", "open", "ord", "pow",
  "print", "repr", "reversed", "round", "setattr", "sorted", "sum", "vars", "zip", "__import__",
  "__build_class__", "copyright", "credits", "exit", "license", "quit",
  // Types.
  "bool", "bytearray", "bytes", "classmethod", "complex", "dict", "float", "frozenset", "int",
  "list", "memoryview", "object", "property", "range", "set", "slice", "staticmethod", "str",
  "super", "tuple", "type",
  // Constants and module attributes.
  "True", "False", "None", "Ellipsis", "NotImplemented", "__name__", "__file__", "__doc__",
  "__package__", "__spec__", "__builtins__", "__debug__", "__loader__", "__path__", "__all__",
  // Exceptions and warnings.
  "BaseException", "BaseExceptionGroup", "Exception", "ExceptionGroup", "ArithmeticError",
  "AssertionError", "AttributeError", "BlockingIOError", "BrokenPipeError", "BufferError",
  "ChildProcessError", "ConnectionAbortedError", "ConnectionError", "ConnectionRefusedError",
  "ConnectionResetError", "EOFError", "EnvironmentError", "FileExistsError", "FileNotFoundError",
  "FloatingPointError", "GeneratorExit", "IOError", "ImportError", "IndentationError", "IndexError",
  "InterruptedError", "IsADirectoryError", "KeyError", "KeyboardInterrupt", "LookupError",
  "MemoryError", "ModuleNotFoundError", "NameError", "NotADirectoryError", "NotImplementedError",
  "OSError", "OverflowError", "PermissionError", "ProcessLookupError", "RecursionError",
  "ReferenceError", "RuntimeError", "StopAsyncIteration", "StopIteration", "SyntaxError",
  "SystemError", "SystemExit", "TabError", "TimeoutError", "TypeError", "UnboundLocalError",
  "UnicodeDecodeError", "UnicodeEncodeError", "UnicodeError", "UnicodeTranslateError",
  "ValueError", "ZeroDivisionError", "Warning", "BytesWarning", "DeprecationWarning",
  "EncodingWarning", "FutureWarning", "ImportWarning", "PendingDeprecationWarning",
  "ResourceWarning", "RuntimeWarning", "SyntaxWarning", "UnicodeWarning", "UserWarning"
]

const javascript: ReadonlySet<string> = new Set(ecmaScriptGlobals)
const typescript: ReadonlySet<string> = new Set([...ecmaScriptGlobals, ...typeScriptTypes])
const python: ReadonlySet<string> = new Set(pythonBuiltins)

/**
 * The names `language` provides without an import: what an atom may use without defining or
 * importing it (validation level 3, and the symbol graph's unresolved uses).
 *
 * @example
 * knownGlobals("python").has("len") // true
 * knownGlobals("typescript").has("Partial") // true
 */
export const knownGlobals = (language: Language): ReadonlySet<string> => {
  switch (language) {
    case "typescript":
      return typescript
    case "javascript":
      return javascript
    case "python":
      return python
  }
}
