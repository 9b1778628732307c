import { execFileSync } from "node:child_process"
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/**
 * Runs `body` with a directory on a tmpfs of `sizeMb` MB of its own, unmounted after. Where
 * mounting is not permitted (not root) the test cannot run: outside CI it says why and returns
 * undefined; in CI that is a failure.
 */
export const withTmpfs = async <A>(
  sizeMb: number,
  body: (dir: string) => Promise<A>
): Promise<A | undefined> => {
  const dir = mkdtempSync(join(tmpdir(), "devmatrix-tmpfs-"))
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", dir], { stdio: "pipe" })
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    if (process.env["CI"] !== undefined) throw error
    console.warn(`not run: cannot mount a tmpfs (${(error as Error).message.split("\n")[0]}); run as root`)
    return undefined
  }
  try {
    return await body(dir)
  } finally {
    execFileSync("umount", ["-l", dir])
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Fills the file system under `dir` to the last byte with a file `filler`; its path. */
export const fillUp = (dir: string): string => {
  const filler = join(dir, "filler")
  const fd = openSync(filler, "a")
  const chunk = Buffer.alloc(256 * 1024, 1)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error
  } finally {
    closeSync(fd)
  }
  return filler
}
