// The package ships JavaScript only; test/prometheusText.ts gives its output a type.
declare module "parse-prometheus-text-format" {
  const parsePrometheusTextFormat: (text: string) => unknown
  export default parsePrometheusTextFormat
}
