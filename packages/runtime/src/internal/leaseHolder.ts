import { randomUUID } from "node:crypto"
import { hostname } from "node:os"

/** This process as a lease owner: `host/pid/token` (the token tells apart engines of one process). */
export const leaseOwnerOfThisProcess = (): string =>
  `${hostname()}/${process.pid}/${randomUUID().replaceAll("-", "").slice(0, 8)}`

/**
 * Whether the process that holds a lease is known to be gone: it ran on this host and no process
 * has its pid any more (killed, crashed). A holder on another host is never known gone: its
 * lease has to lapse.
 */
export const leaseHolderGone = (owner: string): boolean => {
  const [host, pidText] = owner.split("/")
  const pid = Number(pidText)
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false
  try {
    // Signal 0 only asks whether the process exists.
    process.kill(pid, 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH"
  }
}
