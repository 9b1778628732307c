import { leaseHolderGone } from "@devmatrix/runtime"
import type { MasterplanRecord } from "@devmatrix/runtime"

/** Whether a plan in this status may still run (it has not completed, failed or been cancelled). */
export const unfinished = (status: string): boolean =>
  status !== "completed" && status !== "failed" && status !== "cancelled"

/**
 * The process running an unfinished plan now: the holder of a lease that has not lapsed and
 * whose holder is not known gone (a process of this host that no longer exists).
 */
export const runnerOf = (
  record: Pick<MasterplanRecord, "status" | "lease">,
  nowMs: number
): string | undefined =>
  unfinished(record.status) &&
  record.lease !== undefined &&
  record.lease.untilMs >= nowMs &&
  !leaseHolderGone(record.lease.owner)
    ? record.lease.owner
    : undefined
