import parsePrometheusTextFormat from "parse-prometheus-text-format"

// Prometheus' text exposition format, read by a parser of its own (a port of the Prometheus
// clients' parser): a metric the host writes wrong fails the parse instead of a regular expression
// that happens to match.

/** One metric family as the parser gives it (prom2json's shape). */
export interface MetricFamily {
  readonly name: string
  readonly help: string
  readonly type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED"
  readonly metrics: ReadonlyArray<{
    readonly labels?: Readonly<Record<string, string>>
    readonly value?: string
    readonly buckets?: Readonly<Record<string, string>>
    readonly count?: string
    readonly sum?: string
  }>
}

/** Parses an exposition; throws on a line that is not the text format. */
export const parseMetrics = (text: string): ReadonlyMap<string, MetricFamily> =>
  new Map((parsePrometheusTextFormat(text) as Array<MetricFamily>).map((family) => [family.name, family]))

/** A counter's or gauge's samples, by the value of `label` ("" for a sample without it). */
export const samplesBy = (family: MetricFamily | undefined, label: string): Map<string, number> =>
  new Map((family?.metrics ?? []).map((metric) => [metric.labels?.[label] ?? "", Number(metric.value)]))
