import type { StoreError } from "@devmatrix/runtime"
import { Cause, Option } from "effect"

const isStoreError = (value: unknown): value is StoreError =>
  typeof value === "object" && value !== null && "_tag" in value && value._tag === "StoreError"

/**
 * The `StoreError` a cause holds, as a failure or, where some layer let one through as a defect,
 * as a defect: either way the user gets one line, never a stack trace.
 */
export const storeErrorIn = (cause: Cause.Cause<unknown>): Option.Option<StoreError> =>
  Option.orElse(Option.filter(Cause.failureOption(cause), isStoreError), () =>
    Option.fromNullable(Cause.defects(cause).pipe((defects) => [...defects].find(isStoreError)))
  )

/** A store's message on one line: a driver's own words may span several. */
export const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, " ")
