import type { Layer } from "effect"
import { Layer as L } from "effect"
import { StoreError, StoreMemory } from "./Store.js"
import type { Store } from "./Store.js"
import { StorePg } from "./StorePg.js"
import { StoreSqlite } from "./StoreSqlite.js"

/** The embedded default store URL. */
export const defaultStoreUrl = "sqlite:.devmatrix/devmatrix.db"

/** The store a URL names: `memory:`, `sqlite:<path>` or `postgres://...` (also `postgresql://`). */
export const storeFromUrl = (url: string): Layer.Layer<Store, StoreError> => {
  if (url === "memory:") return StoreMemory
  if (url.startsWith("sqlite:")) return StoreSqlite(url.slice("sqlite:".length))
  if (/^postgres(ql)?:\/\//.test(url)) return StorePg(url)
  return L.fail(
    new StoreError({
      reason: "Unavailable",
      store: url,
      detail: "unknown store URL: use memory:, sqlite:<path> or postgres://user@host:port/database"
    })
  )
}
