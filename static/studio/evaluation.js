// The Evaluation page: config + progress (job SSE), then the evaluated task's metrics and
// per-image results. The server includes one template part per task
// (templates/evaluation/task/<task>.html); this one Alpine component serves them all, and
// what differs per task lives in TASKS below (views, summary, charts, default sort):
// - classification: confusion-matrix heat-map (an HTML table), per-class bar chart, a grid
//   whose filters a click on a matrix cell sets;
// - anomaly_detection: ROC curve, a threshold slider that recomputes the 2x2 confusion
//   matrix, F1, precision and recall in the browser from the per-image scores and labels;
// - regression: predicted-vs-actual scatter (with y = x), error histogram, an error table
//   sorted worst first.
// Registered before Alpine starts (deferred script).
document.addEventListener("alpine:init", () => {
  const TERMINAL = ["succeeded", "failed", "cancelled", "interrupted"];
  const SUBSETS = ["train", "val", "test"];
  const LABELS = { train: "Train", val: "Validation", test: "Test", all: "All" };
  const PAGE_SIZE = 48;
  // headline metric -> [label, share (0-1)?]; a share reads as a percentage (accuracy) or
  // three decimals (AUROC), a value in the task's units gets three significant digits
  const HEADLINES = {
    accuracy: ["accuracy", true], auroc: ["AUROC", true], average_precision: ["average precision", true],
    f1: ["F1", true], mae: ["MAE", false], rmse: ["RMSE", false], mse: ["MSE", false], r2: ["R²", true],
  };
  const EMPTY_FILTERS = { correct: "", true_class: "", pred_class: "", verdict: "", subset: "" };

  function cssVar(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function errorText(data, response) {
    const err = data && data.error;
    if (!err) return `The server answered ${response.status}.`;
    const details = err.details && typeof err.details === "object" ? Object.values(err.details).flat() : [];
    const extra = details.filter((d) => typeof d === "string" && !err.message.includes(d));
    return extra.length ? `${err.message} (${extra.join("; ")})` : err.message;
  }

  function humanBytes(n) {
    const units = ["B", "KB", "MB", "GB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
  }

  // three significant digits, trailing zeros kept (3.50, 0.0123, 123)
  function sig(v) {
    if (v === null || v === undefined) return "–";
    if (v === 0 || !Number.isFinite(v)) return String(v);
    const decimals = Math.min(8, Math.max(0, 2 - Math.floor(Math.log10(Math.abs(v)))));
    return v.toFixed(decimals);
  }

  // ---- per-task behaviour ------------------------------------------------
  // views(agg): metrics keyed "all" and by subset (each with a count); summary(page, agg): the
  // config card's one-line result; draw(page): (re)draw the charts; sort: the grid's default.
  const TASKS = {
    classification: {
      views: (agg) => ({ all: agg.overall, ...agg.subsets }),
      summary: (page, agg) => `${agg.overall.count} images, accuracy ${page.pct(agg.overall.accuracy)}`,
      draw: (page) => page.drawClassChart(),
      sort: "",
      open: false,
    },
    anomaly_detection: {
      views: (agg) => agg.anomaly,
      summary: (page, agg) => {
        const a = agg.anomaly.all;
        return `${a.count} images (${a.anomalous} anomalous), ${page.headlineText(agg.headline)}`;
      },
      draw: (page) => page.drawRoc(),
      sort: "-score",
      open: true,
    },
    regression: {
      views: (agg) => agg.regression,
      summary: (page, agg) => `${agg.regression.all.count} images, ${page.headlineText(agg.headline)}`,
      draw: (page) => { page.drawScatter(); page.drawHistogram(); },
      sort: "-error",
      open: true,
    },
  };
  const THRESHOLD_SOURCES = {
    val: ["Chosen on the validation images (best F1): the test images' numbers at this threshold are an honest estimate.", false],
    all: ["Chosen on the evaluated images themselves (best F1): optimistic, the numbers at this threshold are tuned on the very images they are measured on. Evaluate the validation subset too for an honest threshold.", true],
    default: ["The default 0.5: the evaluated images do not hold both outcomes to choose a threshold from.", true],
  };

  Alpine.data("evaluationPage", () => {
    // Chart.js objects live outside Alpine's reactive proxies (they break Chart.js).
    const charts = {};
    let events = null;
    let sequence = 0;
    let liveKey = "";
    let liveValue = null;

    function destroyCharts() {
      for (const key of Object.keys(charts)) { charts[key].destroy(); delete charts[key]; }
    }

    function chartColors() {
      return { text: cssVar("--text", "#1d2330"), grid: cssVar("--border", "#dde1e8"), muted: cssVar("--muted", "#5d6677"),
        primary: cssVar("--primary", "#2f6fed"), ok: cssVar("--ok", "#1f8a4c"), warn: cssVar("--warn", "#b7791f"),
        danger: cssVar("--danger", "#c9302c") };
    }

    return {
      pid: "",
      exp: "",
      csrf: "",
      task: "classification",
      evaluation: { status: "none", experiment: { name: "" }, aggregate: null },
      checkpoints: [],
      devices: ["cpu"],
      splitSizes: {},
      subsetNames: SUBSETS,
      form: { checkpoint: "", subsets: ["test"], batch_size: 64, device: "cpu" },
      busy: false,
      error: "",
      progress: { done: 0, total: 0, message: "" },
      view: "all",
      open: false,
      filters: { ...EMPTY_FILTERS, sort: "" },
      page: 1,
      pages: 1,
      count: 0,
      results: [],
      loading: false,
      resultsError: "",
      detail: null,
      thresholds: [], // anomaly: the distinct scores, ascending: the slider's stops
      thresholdIndex: 0,

      init() {
        const data = JSON.parse(document.getElementById("ev-initial").textContent);
        this.csrf = this.$el.dataset.csrf;
        this.task = TASKS[this.$el.dataset.task] ? this.$el.dataset.task : "classification";
        this.pid = data.project_id;
        this.exp = data.experiment_id;
        this.checkpoints = data.checkpoints;
        this.devices = data.devices;
        this.splitSizes = data.split_sizes || {};
        this.evaluation = data.evaluation;
        const config = data.evaluation.config;
        const names = this.checkpoints.map((c) => c.name);
        this.form.checkpoint = config && names.includes(config.checkpoint) ? config.checkpoint : names[0] || "";
        this.form.subsets = config ? [...config.subsets] : (this.splitSizes.test ? ["test"] : SUBSETS.filter((s) => this.splitSizes[s]).slice(-1));
        this.form.batch_size = config ? config.batch_size : 64;
        this.form.device = config && this.devices.includes(config.device) ? config.device : data.default_device;
        this.resetResults();
        this.$watch("thresholdIndex", () => this.updateOperatingPoint());
        this.evaluated();
        if (this.active() && this.evaluation.events_url) this.follow(this.evaluation.events_url);
        new MutationObserver(() => this.drawCharts()).observe(document.documentElement, {
          attributes: true, attributeFilter: ["data-theme"],
        });
      },
      spec() {
        return TASKS[this.task];
      },
      // a (new) evaluation is shown: threshold stops, charts, the results when open
      evaluated() {
        this.view = "all";
        this.setupThresholds();
        this.open = this.open || Boolean(this.aggregate() && this.spec().open);
        this.$nextTick(() => this.drawCharts());
        if (this.open && this.aggregate()) this.loadResults();
      },

      api(suffix = "") {
        return `/api/evaluation/${this.pid}/${this.exp}${suffix}`;
      },
      active() {
        return ["queued", "running"].includes(this.evaluation.status);
      },
      aggregate() {
        return this.evaluation.status === "completed" ? this.evaluation.aggregate : null;
      },
      statusText() {
        const s = this.evaluation.status;
        const text = { none: "not evaluated", completed: "evaluated" }[s] || s;
        return text.charAt(0).toUpperCase() + text.slice(1);
      },
      subsetLabel(s) {
        return LABELS[s] || s;
      },
      num(v) {
        return (100 * v).toFixed(1);
      },
      pct(v) {
        return v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)} %`;
      },
      fixed(v, digits = 3) {
        return v === null || v === undefined ? "–" : v.toFixed(digits);
      },
      sig(v) {
        return sig(v);
      },
      headlineText(headline) {
        const [name, value] = headline || ["", null];
        const [label, share] = HEADLINES[name] || [name.replace(/_/g, " "), false];
        if (value === null || value === undefined) return `${label} n/a`;
        if (name === "accuracy") return `${label} ${this.pct(value)}`;
        return `${label} ${share ? value.toFixed(3) : sig(value)}`;
      },
      checkpointLabel(c) {
        const tags = [c.best && "best", c.last && "last"].filter(Boolean).join(", ");
        const when = new Date(c.modified).toLocaleString();
        return `${c.name}${tags ? ` (${tags})` : ""} · ${humanBytes(c.size)} · ${when}`;
      },
      percent() {
        return this.progress.total ? Math.round((100 * this.progress.done) / this.progress.total) : 0;
      },
      progressText() {
        if (this.evaluation.status === "queued" && !this.progress.message) return "Waiting for a worker…";
        return this.progress.message || "Starting…";
      },
      summaryText() {
        const e = this.evaluation;
        if (!e.aggregate) return "";
        const subsets = (e.config.subsets || []).map((s) => this.subsetLabel(s).toLowerCase()).join(" + ");
        const skipped = e.skipped ? ` · ${e.skipped} image${e.skipped === 1 ? "" : "s"} skipped (no label the model knows)` : "";
        const when = e.finished_at ? ` · ${new Date(e.finished_at).toLocaleString()}` : "";
        return `${e.checkpoint ? e.checkpoint.name : e.config.checkpoint} on ${subsets}: ${this.spec().summary(this, e.aggregate)}${skipped}${when}`;
      },

      // ---- running ------------------------------------------------------
      async start() {
        this.error = "";
        this.busy = true;
        try {
          const response = await fetch(this.api(), {
            method: "POST",
            headers: { "Content-Type": "application/json", "X-CSRFToken": this.csrf },
            credentials: "same-origin",
            body: JSON.stringify(this.form),
          });
          const data = await response.json().catch(() => ({}));
          if (!response.ok) {
            this.error = errorText(data, response);
            return;
          }
          this.resetResults();
          this.evaluation = data.evaluation;
          this.progress = { done: 0, total: 0, message: "" };
          this.follow(data.events_url);
        } catch (err) {
          this.error = `Studio cannot be reached (${err}). Is the server running?`;
        } finally {
          this.busy = false;
        }
      },
      follow(url) {
        if (events) events.close();
        events = new EventSource(url);
        events.addEventListener("started", () => {
          this.evaluation.status = "running";
        });
        events.addEventListener("progress", (ev) => {
          const d = JSON.parse(ev.data);
          this.evaluation.status = "running";
          this.progress = { done: d.done, total: d.total, message: d.message };
        });
        for (const type of TERMINAL) {
          events.addEventListener(type, () => {
            events.close();
            events = null;
            this.refresh();
          });
        }
      },
      async refresh() {
        const response = await fetch(this.api(), { credentials: "same-origin" });
        const data = await response.json().catch(() => ({}));
        if (!response.ok) {
          this.error = errorText(data, response);
          return;
        }
        this.evaluation = data;
        this.evaluated();
      },
      async reset() {
        this.error = "";
        if (events) { events.close(); events = null; }
        const previous = this.evaluation;
        // back to the config state at once; the request only confirms it
        this.evaluation = { ...previous, status: "none", aggregate: null, error: "", job_id: null, events_url: null };
        this.resetResults();
        destroyCharts();
        const response = await fetch(this.api(), {
          method: "DELETE", headers: { "X-CSRFToken": this.csrf }, credentials: "same-origin",
        });
        if (!response.ok) {
          const data = await response.json().catch(() => ({}));
          this.error = errorText(data, response);
          this.evaluation = previous;
          this.$nextTick(() => this.drawCharts());
        }
      },

      // ---- metrics: subset views -----------------------------------------
      views() {
        const agg = this.aggregate();
        return agg ? this.spec().views(agg) || {} : {};
      },
      subsetViews() {
        const views = this.views();
        const keys = SUBSETS.filter((s) => views[s]);
        return keys.length > 1 ? ["all", ...keys] : ["all"];
      },
      viewLabel(v) {
        const m = this.views()[v];
        return `${LABELS[v]} (${m ? m.count : 0})`;
      },
      setView(v) {
        this.view = v;
        this.$nextTick(() => this.drawCharts());
      },
      current() {
        const views = this.views();
        return views[this.view] || views.all || null;
      },
      metrics() { // classification (and anomaly detection's class metrics)
        const agg = this.aggregate();
        if (!agg || !agg.overall) return null;
        return this.view === "all" ? agg.overall : agg.subsets[this.view] || agg.overall;
      },
      evaluatedSubsets() {
        const views = this.views();
        return SUBSETS.filter((s) => views[s]);
      },
      drawCharts() {
        destroyCharts();
        if (this.aggregate() && window.Chart) this.spec().draw(this);
      },
      canvas(testid) {
        const canvas = this.$root.querySelector(`canvas[data-testid=${testid}]`);
        return canvas && canvas.isConnected ? canvas : null;
      },

      // ---- classification -----------------------------------------------
      cellShare(i, j) {
        const row = this.metrics().confusion_matrix[i];
        const total = row.reduce((a, b) => a + b, 0);
        return total ? row[j] / total : 0;
      },
      cellStyle(i, j) {
        const n = this.metrics().confusion_matrix[i][j];
        return n ? this.shade(i === j, this.cellShare(i, j)) : "";
      },
      shade(diagonal, share) {
        const pctShade = Math.round(15 + 85 * share);
        const color = diagonal ? "var(--ok)" : "var(--danger)";
        const text = pctShade > 55 ? "#fff" : "var(--text)";
        return `background-color: color-mix(in srgb, ${color} ${pctShade}%, var(--surface)); color: ${text}`;
      },
      cellTitle(i, j) {
        const names = this.aggregate().class_names;
        const n = this.metrics().confusion_matrix[i][j];
        return `true ${names[i]} → predicted ${names[j]}: ${n} image${n === 1 ? "" : "s"} (${(100 * this.cellShare(i, j)).toFixed(0)} % of ${names[i]})`;
      },
      isSelectedCell(i, j) {
        const ids = this.aggregate().class_ids;
        return this.filters.true_class === String(ids[i]) && this.filters.pred_class === String(ids[j]) &&
          this.filters.subset === (this.view === "all" ? "" : this.view) && !this.filters.correct;
      },
      cellClick(i, j) {
        if (!this.metrics().confusion_matrix[i][j]) return;
        const ids = this.aggregate().class_ids;
        this.showCell({ true_class: String(ids[i]), pred_class: String(ids[j]) });
      },
      showCell(filters) {
        this.filters = { ...this.filters, ...EMPTY_FILTERS, ...filters, subset: this.view === "all" ? "" : this.view };
        this.page = 1;
        this.open = true;
        this.loadResults();
        this.$nextTick(() => document.querySelector("[data-testid=results-card]").scrollIntoView({ behavior: "smooth", block: "start" }));
      },
      drawClassChart() {
        const canvas = this.canvas("class-chart");
        const m = this.metrics();
        if (!canvas || !m) return;
        const c = chartColors();
        const series = [["Precision", "precision", c.primary], ["Recall", "recall", c.warn], ["F1", "f1", c.ok]];
        charts.classes = new window.Chart(canvas, {
          type: "bar",
          data: {
            labels: m.per_class.map((x) => x.name),
            datasets: series.map(([label, key, color]) => ({
              label, data: m.per_class.map((x) => x[key]), backgroundColor: color, borderWidth: 0,
            })),
          },
          options: {
            responsive: true, maintainAspectRatio: false, animation: false,
            plugins: {
              legend: { labels: { color: c.text } },
              tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${(100 * ctx.parsed.y).toFixed(1)} %` } },
            },
            scales: {
              x: { ticks: { color: c.text, autoSkip: false, maxRotation: 60 }, grid: { color: c.grid } },
              y: { min: 0, max: 1, ticks: { color: c.text, callback: (v) => `${Math.round(v * 100)} %` }, grid: { color: c.grid } },
            },
          },
        });
      },

      // ---- anomaly detection: the threshold slider -------------------------
      // The slider's stops are the distinct scores of all evaluated images (every step moves at
      // least one image across; scores of a small model often crowd into a narrow band, where a
      // linear 0-1 slider could not separate them). An image is anomalous when score >= threshold.
      setupThresholds() {
        const agg = this.aggregate();
        const all = agg && agg.anomaly && agg.anomaly.all;
        if (!all) { this.thresholds = []; return; }
        const extra = Object.values(agg.anomaly).flatMap((m) => [m.threshold, m.youden_threshold, m.best_f1_threshold]);
        this.thresholds = [...new Set([...all.scores, ...extra].filter((v) => v !== null && v !== undefined))].sort((a, b) => a - b);
        this.setThreshold(all.threshold);
      },
      threshold() {
        return this.thresholds.length ? this.thresholds[this.thresholdIndex] : 0.5;
      },
      setThreshold(value) {
        if (value === null || value === undefined || !this.thresholds.length) return;
        let best = 0;
        this.thresholds.forEach((t, i) => { if (Math.abs(t - value) < Math.abs(this.thresholds[best] - value)) best = i; });
        this.thresholdIndex = best;
      },
      thresholdChanged() { // the slider was released: a verdict filter follows the threshold
        if (this.filters.verdict && this.open) this.filtersChanged();
      },
      isThreshold(value) {
        return value !== null && value !== undefined && Math.abs(this.threshold() - value) < 1e-9;
      },
      thresholdSource() {
        const agg = this.aggregate();
        return (agg && THRESHOLD_SOURCES[agg.threshold_source]) || ["", false];
      },
      anomalous(r) {
        return r.score !== null && r.score !== undefined && r.score >= this.threshold();
      },
      verdictCorrect(r) {
        return this.anomalous(r) === (r.true_class_id === 1);
      },
      // counts and scores of the current view at the slider's threshold (memoised per render)
      live() {
        const m = this.current();
        if (!m || !m.scores) return null;
        const t = this.threshold();
        const key = `${this.evaluation.finished_at || ""}|${this.view}|${t}|${m.scores.length}`;
        if (key === liveKey) return liveValue;
        let tp = 0; let fp = 0; let tn = 0; let fn = 0;
        m.scores.forEach((s, i) => {
          const flagged = s >= t;
          if (m.labels[i] === 1) { if (flagged) tp += 1; else fn += 1; } else if (flagged) fp += 1; else tn += 1;
        });
        const precision = tp + fp ? tp / (tp + fp) : 0;
        const recall = tp + fn ? tp / (tp + fn) : 0;
        const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
        liveKey = key;
        liveValue = { tp, fp, tn, fn, precision, recall, f1, accuracy: (tp + tn) / Math.max(1, m.scores.length),
          tpr: recall, fpr: fp + tn ? fp / (fp + tn) : 0, matrix: [[tn, fp], [fn, tp]] };
        return liveValue;
      },
      anomalyCellStyle(i, j) {
        const row = this.live().matrix[i];
        const total = row[0] + row[1];
        return row[j] ? this.shade(i === j, total ? row[j] / total : 0) : "";
      },
      anomalyCellClick(i, j) {
        if (!this.live().matrix[i][j]) return;
        this.showCell({ true_class: String(i), verdict: j ? "anomalous" : "good" });
      },
      isSelectedAnomalyCell(i, j) {
        return this.filters.true_class === String(i) && this.filters.verdict === (j ? "anomalous" : "good") &&
          this.filters.subset === (this.view === "all" ? "" : this.view);
      },
      drawRoc() {
        const canvas = this.canvas("roc-chart");
        const m = this.current();
        if (!canvas || !m) return;
        const c = chartColors();
        const point = this.live();
        charts.roc = new window.Chart(canvas, {
          type: "scatter",
          data: {
            datasets: [
              { label: `ROC (AUROC ${this.fixed(m.auroc)})`, data: m.roc.map((p) => ({ x: p.fpr, y: p.tpr, t: p.threshold })),
                showLine: true, borderColor: c.primary, backgroundColor: c.primary, pointRadius: 0, borderWidth: 2, order: 2 },
              { label: "Chance", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, borderColor: c.muted,
                borderDash: [5, 5], borderWidth: 1, pointRadius: 0, order: 3 },
              { label: "the slider's threshold", data: point ? [{ x: point.fpr, y: point.tpr }] : [], pointRadius: 7, pointHoverRadius: 8,
                backgroundColor: c.danger, borderColor: c.text, borderWidth: 1.5, order: 1 },
            ],
          },
          options: {
            responsive: true, maintainAspectRatio: false, animation: false,
            plugins: {
              legend: { labels: { color: c.text, filter: (item) => item.datasetIndex !== 1, sort: (a, b) => a.datasetIndex - b.datasetIndex } },
              tooltip: { callbacks: { label: (ctx) => {
                const d = ctx.raw;
                const at = d.t !== undefined ? ` at threshold ${d.t.toFixed(4)}` : ctx.datasetIndex === 2 ? ` at threshold ${this.threshold().toFixed(4)}` : "";
                return `FPR ${(100 * d.x).toFixed(1)} %, TPR ${(100 * d.y).toFixed(1)} %${at}`;
              } } },
            },
            scales: {
              x: { min: 0, max: 1, title: { display: true, text: "false positive rate (good images flagged)", color: c.text },
                ticks: { color: c.text, callback: (v) => `${Math.round(v * 100)} %` }, grid: { color: c.grid } },
              y: { min: 0, max: 1, title: { display: true, text: "true positive rate (anomalies caught)", color: c.text },
                ticks: { color: c.text, callback: (v) => `${Math.round(v * 100)} %` }, grid: { color: c.grid } },
            },
          },
        });
      },
      updateOperatingPoint() {
        const chart = charts.roc;
        const point = this.live();
        if (!chart || !point) return;
        chart.data.datasets[2].data = [{ x: point.fpr, y: point.tpr }];
        chart.update("none");
      },

      // ---- regression -------------------------------------------------------
      targetNames() {
        const agg = this.aggregate();
        return agg ? agg.target_names : [];
      },
      // a column's values with one precision, ~1/100 of that target's typical error (MAE), so
      // 0 and 8 line up as 0.00 and 8.00; k = null: the per-image error column
      fmtValue(v, k = null) {
        if (v === null || v === undefined) return "–";
        const all = this.views().all;
        const mae = !all ? 0 : k === null ? all.mae : (all.per_target[k] || {}).mae;
        const decimals = mae > 0 ? Math.min(6, Math.max(0, 2 - Math.floor(Math.log10(mae)))) : 3;
        return v.toFixed(decimals);
      },
      targetColumns() { // the table's value columns: [target index, "actual" | "predicted"]
        return this.targetNames().flatMap((_, k) => [[k, "actual"], [k, "predicted"]]);
      },
      firstTarget() {
        return this.targetNames()[0] || "target";
      },
      drawScatter() {
        const canvas = this.canvas("scatter-chart");
        const m = this.current();
        if (!canvas || !m) return;
        const c = chartColors();
        const values = m.scatter.flat();
        let lo = Math.min(...values);
        let hi = Math.max(...values);
        if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
        const pad = (hi - lo) * 0.04 || 0.5;
        lo -= pad; hi += pad;
        const name = this.firstTarget();
        charts.scatter = new window.Chart(canvas, {
          type: "scatter",
          data: {
            datasets: [
              { label: "images", data: m.scatter.map(([x, y]) => ({ x, y })), backgroundColor: `color-mix(in srgb, ${c.primary} 60%, transparent)`,
                borderColor: c.primary, pointRadius: 3, order: 1 },
              { label: "perfect (y = x)", data: [{ x: lo, y: lo }, { x: hi, y: hi }], showLine: true, borderColor: c.ok,
                borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, order: 2 },
            ],
          },
          options: {
            responsive: true, maintainAspectRatio: false, animation: false,
            plugins: {
              legend: { labels: { color: c.text } },
              tooltip: { callbacks: { label: (ctx) => `actual ${sig(ctx.parsed.x)}, predicted ${sig(ctx.parsed.y)}` } },
            },
            scales: {
              x: { min: lo, max: hi, title: { display: true, text: `actual ${name}`, color: c.text }, ticks: { color: c.text, includeBounds: false }, grid: { color: c.grid } },
              y: { min: lo, max: hi, title: { display: true, text: `predicted ${name}`, color: c.text }, ticks: { color: c.text, includeBounds: false }, grid: { color: c.grid } },
            },
          },
        });
      },
      drawHistogram() {
        const canvas = this.canvas("error-histogram");
        const m = this.current();
        if (!canvas || !m) return;
        const c = chartColors();
        const bins = m.error_histogram;
        charts.histogram = new window.Chart(canvas, {
          type: "bar",
          data: {
            labels: bins.map((b) => sig((b.lower + b.upper) / 2)),
            datasets: [{ label: "images", data: bins.map((b) => b.count), borderWidth: 0, barPercentage: 1, categoryPercentage: 0.95,
              backgroundColor: bins.map((b) => (b.lower < 0 && b.upper > 0 ? c.ok : c.warn)) }],
          },
          options: {
            responsive: true, maintainAspectRatio: false, animation: false,
            plugins: {
              legend: { display: false },
              tooltip: { callbacks: {
                title: (items) => { const b = bins[items[0].dataIndex]; return `error ${sig(b.lower)} to ${sig(b.upper)}`; },
                label: (ctx) => `${ctx.parsed.y} image${ctx.parsed.y === 1 ? "" : "s"}`,
              } },
            },
            scales: {
              x: { title: { display: true, text: `error: predicted − actual ${this.firstTarget()}`, color: c.text }, ticks: { color: c.text, maxRotation: 0, autoSkip: true }, grid: { display: false } },
              y: { beginAtZero: true, title: { display: true, text: "images", color: c.text }, ticks: { color: c.text, precision: 0 }, grid: { color: c.grid } },
            },
          },
        });
      },
      sortBy(key) { // a table header: worst first on the first click, then flip
        this.filters.sort = this.filters.sort === `-${key}` ? key : `-${key}`;
        this.filtersChanged();
      },
      sortOrder() { // the table: click the order column for the evaluation order
        this.filters.sort = "position";
        this.filtersChanged();
      },
      ariaSort(key) {
        if (this.filters.sort === key) return "ascending";
        return this.filters.sort === `-${key}` ? "descending" : "none";
      },
      sortMark(key) {
        return { ascending: "▲", descending: "▼" }[this.ariaSort(key)] || "";
      },

      // ---- per-image results ------------------------------------------
      resetResults() {
        this.results = [];
        this.count = 0;
        this.page = 1;
        this.pages = 1;
        this.detail = null;
        this.resultsError = "";
        this.filters = { ...EMPTY_FILTERS, sort: this.spec().sort };
      },
      toggleResults() {
        this.open = !this.open;
        if (this.open && !this.results.length) this.loadResults();
      },
      resultsHeadline() {
        const all = this.views().all;
        if (!all) return "";
        if (!this.results.length && !this.hasFilters()) return `${all.count} images${this.open ? "" : " · click to browse"}`;
        return `${this.count} image${this.count === 1 ? "" : "s"}${this.hasFilters() ? " match the filters" : ""}`;
      },
      hasFilters() {
        return Object.keys(EMPTY_FILTERS).some((k) => this.filters[k]);
      },
      filtersChanged() {
        this.page = 1;
        this.loadResults();
      },
      clearFilters() {
        this.filters = { ...this.filters, ...EMPTY_FILTERS };
        this.filtersChanged();
      },
      query(extra = {}) {
        const { verdict, ...rest } = this.filters;
        const params = new URLSearchParams();
        for (const [key, value] of Object.entries({ ...rest, ...extra })) {
          if (value !== "" && value !== null && value !== undefined) params.set(key, value);
        }
        if (verdict) params.set(verdict === "anomalous" ? "score_gte" : "score_lt", String(this.threshold()));
        return params.toString();
      },
      csvUrl() {
        const q = this.query();
        return this.api(`/results.csv${q ? `?${q}` : ""}`);
      },
      goPage(n) {
        if (n < 1 || n > this.pages) return;
        this.page = n;
        this.loadResults();
      },
      async loadResults() {
        const mine = ++sequence;
        this.loading = true;
        this.resultsError = "";
        try {
          const response = await fetch(this.api(`/results?${this.query({ page: this.page, page_size: PAGE_SIZE })}`), { credentials: "same-origin" });
          const data = await response.json().catch(() => ({}));
          if (mine !== sequence) return; // a newer request owns the grid
          if (!response.ok) {
            this.resultsError = errorText(data, response);
            this.results = [];
            return;
          }
          this.results = data.results;
          this.count = data.count;
          this.pages = data.pages;
          this.page = data.page;
        } catch (err) {
          if (mine === sequence) this.resultsError = `Studio cannot be reached (${err}).`;
        } finally {
          if (mine === sequence) this.loading = false;
        }
      },
      openDetail(r) {
        this.detail = r;
      },
    };
  });
});
