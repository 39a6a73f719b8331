// One vocabulary for every page: the labels and number formats of Studio's metrics.
// The data comes from the server once per page (templates/base.html writes
// studio.ml.vocabulary.as_json() as <script id="studio-vocabulary" type="application/json">);
// this file implements studio/ml/vocabulary.py's format_value over it, so a template
// ({{ value|metric:"val_accuracy" }}), a page component and a chart write the same text.
// tests/core/test_vocabulary_browser.py checks both agree.
//
// window.StudioFormat:
//   label(name)        "val_accuracy" → "Validation accuracy", "auroc" → "AUROC"
//   short(name)        for chart legends and narrow headers: "Val acc."
//   phrase(name)       the label inside a sentence: "validation accuracy", "validation AUROC"
//   help(name)         a tooltip sentence ("" if none)
//   kind(name)         "share" | "loss" | "error" | "count" | "score" | "threshold" | "r2" | "number"
//   value(name, v)     "98.9 %", "0.2346", "3.50", "0.912", "0.5000"; "–" for a missing value
//   ticks(name)        a Chart.js tick callback for an axis of that metric ("95 %", "0.25")
//   sigDecimals(v, n)  decimals that give v n significant digits
//   inUnits(v, scale)  v with the decimals that give `scale` (a typical error) 3 significant
//                      digits: every value of a column in target units lines up ("8.00", "12.35")
// Page components expose thin methods calling these (Alpine's CSP build cannot call globals).
(() => {
  const FALLBACK = { metrics: {}, prefixes: {}, formats: { number: { style: "sig", digits: 4 } }, missing: "–" };
  let vocab = null;

  function vocabulary() {
    if (vocab) return vocab;
    const el = document.getElementById("studio-vocabulary");
    let data = null;
    try {
      data = el ? JSON.parse(el.textContent) : null;
    } catch (err) {
      data = null;
    }
    vocab = data && data.metrics ? data : FALLBACK;
    return vocab;
  }

  function split(name) {
    const text = String(name || "");
    for (const prefix of Object.keys(vocabulary().prefixes)) {
      if (text.startsWith(prefix) && text.length > prefix.length) return [prefix, text.slice(prefix.length)];
    }
    return ["", text];
  }

  function lookup(name) {
    return vocabulary().metrics[split(name)[1]] || null;
  }

  function label(name, short = false) {
    const [prefix, base] = split(name);
    const metric = vocabulary().metrics[base];
    let text;
    if (metric) {
      text = short ? metric.short : metric.label;
    } else {
      const plain = base.replace(/_/g, " ");
      text = plain.charAt(0).toUpperCase() + plain.slice(1);
    }
    if (!prefix) return text;
    if (/^[A-Z][a-z]/.test(text)) text = text.charAt(0).toLowerCase() + text.slice(1);
    const p = vocabulary().prefixes[prefix];
    return `${short ? p.short : p.label} ${text}`;
  }

  function kind(name) {
    const metric = lookup(name);
    return metric ? metric.kind : "number";
  }

  // toFixed rounds half away from zero on the exact binary value, as vocabulary.py does
  function fixed(v, decimals) {
    return (v === 0 ? 0 : v).toFixed(decimals);
  }

  function sigDecimals(v, digits) {
    if (v === 0 || !Number.isFinite(v)) return Math.max(0, digits - 1);
    return Math.min(10, Math.max(0, digits - 1 - Math.floor(Math.log10(Math.abs(v)))));
  }

  function formatNumber(v, style, digits) {
    if (style === "percent") return `${fixed(100 * v, digits)} %`;
    if (style === "sig") return fixed(v, sigDecimals(v, digits));
    return fixed(v, digits);
  }

  function number(v) {
    if (typeof v === "number") return v;
    if (typeof v === "string" && v.trim() !== "") return Number(v);
    return NaN;
  }

  function value(name, v) {
    const n = number(v);
    if (!Number.isFinite(n)) return vocabulary().missing;
    const formats = vocabulary().formats;
    const spec = formats[kind(name)] || formats.number;
    return formatNumber(n, spec.style, spec.digits);
  }

  function inUnits(v, scale) {
    const n = number(v);
    if (!Number.isFinite(n)) return vocabulary().missing;
    const s = number(scale);
    return fixed(n, Number.isFinite(s) && s > 0 ? sigDecimals(s, 3) : 3);
  }

  // Axis ticks: Chart.js picks round steps; write them without float noise (0.30000000000000004)
  // and shares as percentages with at most one decimal.
  function ticks(name) {
    const share = kind(name) === "share";
    return (v) => {
      const n = Number(v);
      if (share) return `${+fixed(100 * n, 1)} %`;
      return String(+n.toPrecision(6));
    };
  }

  window.StudioFormat = {
    label: (name) => label(name, false),
    short: (name) => label(name, true),
    // the label inside a sentence: "validation accuracy", "validation AUROC", "MAE"
    phrase: (name) => {
      const text = label(name, false);
      return /^[A-Z][a-z]/.test(text) ? text.charAt(0).toLowerCase() + text.slice(1) : text;
    },
    help: (name) => {
      const metric = lookup(name);
      return metric ? metric.help : "";
    },
    kind,
    value,
    ticks,
    fixed,
    sigDecimals,
    inUnits,
  };
})();
