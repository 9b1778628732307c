import type { Language } from "../schema/Atom.js"

/**
 * Names a language's code may use without defining or importing them: the unresolved-use check
 * leaves them out. TypeScript and JavaScript share one list: ECMAScript's globals, the ones Node
 * and browsers both give (timers, `console`, `URL`, `fetch`...), CommonJS's module variables,
 * and TypeScript's built-in types. Python's are its `builtins` module and the module attributes.
 */

const words = (text: string): ReadonlySet<string> => new Set(text.split(/\s+/).filter((word) => word !== ""))

const ecmaGlobals = words(`
  globalThis undefined NaN Infinity arguments eval isFinite isNaN parseFloat parseInt
  decodeURI decodeURIComponent encodeURI encodeURIComponent escape unescape
  Object Function Boolean Symbol Error AggregateError EvalError RangeError ReferenceError SyntaxError
  TypeError URIError Number BigInt Math Date String RegExp Array Int8Array Uint8Array
  Uint8ClampedArray Int16Array Uint16Array Int32Array Uint32Array Float32Array Float64Array
  BigInt64Array BigUint64Array Map Set WeakMap WeakSet WeakRef FinalizationRegistry ArrayBuffer
  SharedArrayBuffer DataView Atomics JSON Promise Proxy Reflect Intl Iterator
  console setTimeout clearTimeout setInterval clearInterval setImmediate clearImmediate
  queueMicrotask structuredClone atob btoa fetch Request Response Headers FormData Blob File
  URL URLSearchParams TextEncoder TextDecoder AbortController AbortSignal Event EventTarget
  CustomEvent MessageChannel MessagePort BroadcastChannel performance crypto WebSocket
  ReadableStream WritableStream TransformStream DOMException navigator window document self
  require module exports __dirname __filename process Buffer global
  Partial Required Readonly Record Pick Omit Exclude Extract NonNullable Parameters
  ConstructorParameters ReturnType InstanceType ThisParameterType OmitThisParameter ThisType
  Uppercase Lowercase Capitalize Uncapitalize Awaited NoInfer ReadonlyArray ReadonlyMap
  ReadonlySet PromiseLike ArrayLike Iterable IterableIterator AsyncIterable AsyncIterableIterator
  Generator AsyncGenerator PropertyKey PropertyDescriptor TemplateStringsArray
  ArrayBufferLike ArrayBufferView RegExpExecArray RegExpMatchArray NodeJS BufferEncoding
`)

const pythonGlobals = words(
  `ArithmeticError AssertionError AttributeError BaseException BaseExceptionGroup BlockingIOError BrokenPipeError BufferError BytesWarning ChildProcessError ConnectionAbortedError ConnectionError ConnectionRefusedError ConnectionResetError DeprecationWarning EOFError Ellipsis EncodingWarning EnvironmentError Exception ExceptionGroup False FileExistsError FileNotFoundError FloatingPointError FutureWarning GeneratorExit IOError ImportError ImportWarning IndentationError IndexError InterruptedError IsADirectoryError KeyError KeyboardInterrupt LookupError MemoryError ModuleNotFoundError NameError None NotADirectoryError NotImplemented NotImplementedError OSError OverflowError PendingDeprecationWarning PermissionError ProcessLookupError RecursionError ReferenceError ResourceWarning RuntimeError RuntimeWarning StopAsyncIteration StopIteration SyntaxError SyntaxWarning SystemError SystemExit TabError TimeoutError True TypeError UnboundLocalError UnicodeDecodeError UnicodeEncodeError UnicodeError UnicodeTranslateError UnicodeWarning UserWarning ValueError Warning ZeroDivisionError __build_class__ __debug__ __doc__ __import__ __name__ abs aiter all anext any ascii bin bool breakpoint bytearray bytes callable chr classmethod compile complex copyright credits delattr dict dir divmod enumerate eval exec exit filter float format frozenset getattr globals hasattr hash help hex id input int isinstance issubclass iter len license list locals map max memoryview min next object oct open ord pow print property quit range repr reversed round set setattr slice sorted staticmethod str sum super tuple type vars zip __path__ __spec__ __loader__ __package__`
)

/** Whether `name` is a global or builtin of `language` (see above for which). */
export const isLanguageGlobal = (language: Language, name: string): boolean =>
  (language === "python" ? pythonGlobals : ecmaGlobals).has(name)
