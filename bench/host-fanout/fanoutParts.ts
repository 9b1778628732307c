import { partOf, timeBy } from "../overhead/profile.js"
import type { CallFrame } from "../overhead/profile.js"

/** The parts of a host's profile that are the fan-out: what the watchers cost. */
export const fanoutParts = [
  "fan-out: socket writes (writev, Node streams)",
  "fan-out: ws framing and sending",
  "fan-out: the host server (hub, watches, connections, metrics)"
] as const

const [sockets, ws, hostServer] = fanoutParts

/** The engine's parts, as the overhead bench names them (the hub's one reader per plan is in Effect's). */
export const engineParts = [
  "Effect (fibers, runtime)",
  "XState (actors, transitions)",
  "DevMatrix runtime (engine, journal)",
  "DevMatrix core (machines' actions, queue)"
] as const

/** The overhead bench's parts (engine, Effect, XState, Node, GC), with the fan-out's own split out. */
const fanoutPartOf = (frame: CallFrame): string => {
  const { url, functionName } = frame
  if (
    (url === "" && /^(writev|writeBuffer|writeUtf8String|writeLatin1String)$/.test(functionName)) ||
    /^node:(internal\/streams\/|net$|internal\/stream_base_commons)/.test(url)
  )
    return sockets
  if (url.includes("/ws/lib/")) return ws
  if (url.includes("packages/host/")) return hostServer
  if (url.includes("/msgpackr/")) return "msgpackr (frames encoded once per event)"
  return partOf(frame)
}

/** Self time by part, the fan-out's parts apart: [part, share of samples], largest first. */
export const timeByFanoutPart = (profilePath: string): ReadonlyArray<[string, number]> =>
  timeBy(profilePath, fanoutPartOf)
