import { StoreMemory } from "@devmatrix/runtime"
import { storeSuite } from "./conformance/storeSuite.js"

storeSuite("memory", () => StoreMemory)
