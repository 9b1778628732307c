import { StoreMemory } from "@devmatrix/runtime"
import { scaleAndReplaySuite, storeSuite } from "./conformance/storeSuite.js"

storeSuite("memory", () => StoreMemory)
scaleAndReplaySuite("memory", () => StoreMemory)
