import { defaultGitAuthor, parseGitAuthor } from "@devmatrix/core"
import { Either } from "effect"
import { describe, expect, it } from "vitest"

describe("parseGitAuthor", () => {
  it.each([
    [defaultGitAuthor, { name: "DevMatrix", email: "devmatrix@localhost" }],
    ["Ada Lovelace <ada@example.com>", { name: "Ada Lovelace", email: "ada@example.com" }],
    ["  Ada<ada@example.com>  ", { name: "Ada", email: "ada@example.com" }]
  ])("reads %j", (author, parsed) => {
    expect(parseGitAuthor(author)).toEqual(Either.right(parsed))
  })

  it.each([
    "ada@example.com",
    "<ada@example.com>",
    "Ada <>",
    "Ada <a b@example.com>",
    "Ada <a@b> x",
    "A\nda <a@b>",
    ""
  ])("refuses %j, naming it", (author) => {
    expect(parseGitAuthor(author)).toEqual(
      Either.left(`${JSON.stringify(author)} is not of the form "Name <email>"`)
    )
  })
})
