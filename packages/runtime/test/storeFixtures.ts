import { RunOptions } from "@devmatrix/core"
import type { Event } from "@devmatrix/core"
import type { NewMasterplan } from "@devmatrix/runtime"

/** A new masterplan of `atomCount` atoms in one wave, with a plan of that size. */
export const newMasterplan = (id: string, atomCount = 3): NewMasterplan => {
  const atoms = Array.from({ length: atomCount }, (_, i) => `atom-${i}`)
  return {
    masterplan: {
      id,
      name: `plan ${id}`,
      status: "submitted",
      options: RunOptions.make({}),
      atomCount,
      waveCount: 1,
      createdAt: 1_000
    },
    plan: {
      name: `plan ${id}`,
      atoms: atoms.map((atomId) => ({ id: atomId, instruction: `write ${atomId}` }))
    },
    atoms: atoms.map((atomId, index) => ({ atomId, index, wave: 0 }))
  }
}

/** `count` `atom.ready` events for atoms `atom-<from - 1>`..., numbered from seq `from`. */
export const readyEvents = (masterplanId: string, from: number, count: number): Array<Event> =>
  Array.from({ length: count }, (_, i) => ({
    type: "atom.ready",
    masterplanId,
    atomId: `atom-${from - 1 + i}`,
    wave: 0,
    seq: from + i,
    at: 2_000 + from + i
  }))
