/** `0.0123` -> `$0.0123`, `12.5` -> `$12.50`: cents for large sums, more digits for small ones. */
export const usd = (amount: number): string =>
  amount >= 1 ? `$${amount.toFixed(2)}` : `$${amount.toFixed(4)}`

/** `850` -> `850 ms`, `1234` -> `1.2 s`, `185000` -> `3 m 05 s`. */
export const duration = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  const minutes = Math.floor(ms / 60_000)
  const seconds = Math.floor((ms % 60_000) / 1000)
  return minutes < 60
    ? `${minutes} m ${String(seconds).padStart(2, "0")} s`
    : `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} m`
}

/** Wraps text in an ANSI color when color is on. */
export const paint = (
  color: boolean,
  code: "green" | "red" | "yellow" | "dim" | "bold",
  text: string
): string => {
  if (!color) return text
  const codes = { green: 32, red: 31, yellow: 33, dim: 2, bold: 1 }
  return `\u001b[${codes[code]}m${text}\u001b[0m`
}
