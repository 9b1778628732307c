import { Either } from "effect"

/** A commit's author, as git takes it in `GIT_AUTHOR_NAME` and `GIT_AUTHOR_EMAIL`. */
export interface GitAuthor {
  readonly name: string
  readonly email: string
}

/** The author of the workspace's commits when none is given. */
export const defaultGitAuthor = "DevMatrix <devmatrix@localhost>"

// git itself refuses `<`, `>` and newlines in either part; the email holds no space either.
const authorLine = /^([^<>\n]*[^<>\s])\s*<([^<>\s]+)>$/

/**
 * Parses `Name <email>`, the form `git commit --author` takes, so that a bad author is refused when
 * the workspace is opened, not at the first commit after a wave has been paid for.
 *
 * @example
 * parseGitAuthor("Ada <ada@example.com>") // Either.right({ name: "Ada", email: "ada@example.com" })
 * parseGitAuthor("ada@example.com") // Either.left('"ada@example.com" is not of the form "Name <email>"')
 */
export const parseGitAuthor = (author: string): Either.Either<GitAuthor, string> => {
  const match = authorLine.exec(author.trim())
  return match === null
    ? Either.left(`${JSON.stringify(author)} is not of the form "Name <email>"`)
    : Either.right({ name: match[1]!.trim(), email: match[2]! })
}
