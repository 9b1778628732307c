import { decideWrite } from "@devmatrix/core"
import { describe, expect, it } from "vitest"

describe("decideWrite", () => {
  it("creates what is absent, keeps what is the same, replaces other text only when told to", () => {
    expect(decideWrite(undefined, "a", false)).toBe("create")
    expect(decideWrite(undefined, "a", true)).toBe("create")
    expect(decideWrite("a", "a", false)).toBe("unchanged")
    expect(decideWrite("a", "a", true)).toBe("unchanged")
    expect(decideWrite("b", "a", false)).toBe("refuse")
    expect(decideWrite("b", "a", true)).toBe("replace")
    expect(decideWrite("", "a", false)).toBe("refuse")
  })
})
