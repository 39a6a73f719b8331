// The Evaluation page: config + progress (job SSE), metrics with a confusion-matrix heat-map
// (an HTML table) and a per-class Chart.js bar chart, and the per-image results grid whose
// filters a click on a matrix cell sets. Registered before Alpine starts (deferred script).
document.addEventListener("alpine:init", () => {
  const TERMINAL = ["succeeded", "failed", "cancelled", "interrupted"];
  const SUBSETS = ["train", "val", "test"];
  const LABELS = { train: "Train", val: "Validation", test: "Test", all: "All" };
  const PAGE_SIZE = 48;

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

  Alpine.data("evaluationPage", () => {
    // Chart.js objects live outside Alpine's reactive proxies (they break Chart.js).
    let chart = null;
    let events = null;
    let sequence = 0;
    return {
      pid: "",
      exp: "",
      csrf: "",
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
      filters: { correct: "", true_class: "", pred_class: "", subset: "", sort: "" },
      page: 1,
      pages: 1,
      count: 0,
      results: [],
      loading: false,
      resultsError: "",
      detail: null,

      init() {
        const data = JSON.parse(document.getElementById("ev-initial").textContent);
        this.csrf = this.$el.dataset.csrf;
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
        if (this.active() && this.evaluation.events_url) this.follow(this.evaluation.events_url);
        this.$nextTick(() => this.drawChart());
        new MutationObserver(() => this.drawChart()).observe(document.documentElement, {
          attributes: true, attributeFilter: ["data-theme"],
        });
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
        return `${e.checkpoint ? e.checkpoint.name : e.config.checkpoint} on ${subsets}: ${e.aggregate.overall.count} images, accuracy ${this.pct(e.aggregate.overall.accuracy)}${skipped}${when}`;
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
        this.view = "all";
        this.$nextTick(() => this.drawChart());
        if (this.open && this.aggregate()) this.loadResults();
      },
      async reset() {
        this.error = "";
        if (events) { events.close(); events = null; }
        const previous = this.evaluation;
        // back to the config state at once; the request only confirms it
        this.evaluation = { ...previous, status: "none", aggregate: null, error: "", job_id: null, events_url: null };
        this.resetResults();
        this.drawChart();
        const response = await fetch(this.api(), {
          method: "DELETE", headers: { "X-CSRFToken": this.csrf }, credentials: "same-origin",
        });
        if (!response.ok) {
          const data = await response.json().catch(() => ({}));
          this.error = errorText(data, response);
          this.evaluation = previous;
          this.$nextTick(() => this.drawChart());
        }
      },

      // ---- metrics ------------------------------------------------------
      subsetViews() {
        const agg = this.aggregate();
        if (!agg) return [];
        const keys = SUBSETS.filter((s) => agg.subsets[s]);
        return keys.length > 1 ? ["all", ...keys] : ["all"];
      },
      viewLabel(v) {
        const agg = this.aggregate();
        const m = v === "all" ? agg.overall : agg.subsets[v];
        return `${LABELS[v]} (${m.count})`;
      },
      setView(v) {
        this.view = v;
        this.$nextTick(() => this.drawChart());
      },
      metrics() {
        const agg = this.aggregate();
        if (!agg) return null;
        return this.view === "all" ? agg.overall : agg.subsets[this.view] || agg.overall;
      },
      evaluatedSubsets() {
        const agg = this.aggregate();
        return agg ? SUBSETS.filter((s) => agg.subsets[s]) : [];
      },
      cellShare(i, j) {
        const row = this.metrics().confusion_matrix[i];
        const total = row.reduce((a, b) => a + b, 0);
        return total ? row[j] / total : 0;
      },
      cellStyle(i, j) {
        const n = this.metrics().confusion_matrix[i][j];
        if (!n) return "";
        const share = this.cellShare(i, j);
        const pctShade = Math.round(15 + 85 * share);
        const color = i === j ? "var(--ok)" : "var(--danger)";
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
        this.filters = { ...this.filters, correct: "", true_class: String(ids[i]), pred_class: String(ids[j]), subset: this.view === "all" ? "" : this.view };
        this.page = 1;
        this.open = true;
        this.loadResults();
        this.$nextTick(() => document.querySelector("[data-testid=results-card]").scrollIntoView({ behavior: "smooth", block: "start" }));
      },
      drawChart() {
        if (chart) { chart.destroy(); chart = null; }
        const canvas = this.$root.querySelector("canvas[data-testid=class-chart]");
        const m = this.metrics();
        if (!canvas || !canvas.isConnected || !window.Chart || !m) return;
        const text = cssVar("--text", "#1d2330");
        const grid = cssVar("--border", "#dde1e8");
        const series = [
          ["Precision", "precision", cssVar("--primary", "#2f6fed")],
          ["Recall", "recall", cssVar("--warn", "#b7791f")],
          ["F1", "f1", cssVar("--ok", "#1f8a4c")],
        ];
        chart = new window.Chart(canvas, {
          type: "bar",
          data: {
            labels: m.per_class.map((c) => c.name),
            datasets: series.map(([label, key, color]) => ({
              label, data: m.per_class.map((c) => c[key]), backgroundColor: color, borderWidth: 0,
            })),
          },
          options: {
            responsive: true,
            maintainAspectRatio: false,
            animation: false,
            plugins: {
              legend: { labels: { color: text } },
              tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${(100 * ctx.parsed.y).toFixed(1)} %` } },
            },
            scales: {
              x: { ticks: { color: text, autoSkip: false, maxRotation: 60 }, grid: { color: grid } },
              y: { min: 0, max: 1, ticks: { color: text, callback: (v) => `${Math.round(v * 100)} %` }, grid: { color: grid } },
            },
          },
        });
      },

      // ---- per-image results ------------------------------------------
      resetResults() {
        this.results = [];
        this.count = 0;
        this.page = 1;
        this.pages = 1;
        this.detail = null;
        this.resultsError = "";
        this.filters = { correct: "", true_class: "", pred_class: "", subset: "", sort: "" };
      },
      toggleResults() {
        this.open = !this.open;
        if (this.open && !this.results.length) this.loadResults();
      },
      resultsHeadline() {
        const agg = this.aggregate();
        if (!agg) return "";
        if (!this.results.length && !this.hasFilters()) return `${agg.overall.count} images · click to browse`;
        return `${this.count} image${this.count === 1 ? "" : "s"}${this.hasFilters() ? " match the filters" : ""}`;
      },
      hasFilters() {
        const f = this.filters;
        return Boolean(f.correct || f.true_class || f.pred_class || f.subset);
      },
      filtersChanged() {
        this.page = 1;
        this.loadResults();
      },
      clearFilters() {
        this.filters = { ...this.filters, correct: "", true_class: "", pred_class: "", subset: "" };
        this.filtersChanged();
      },
      query(extra = {}) {
        const params = new URLSearchParams();
        for (const [key, value] of Object.entries({ ...this.filters, ...extra })) {
          if (value !== "" && value !== null && value !== undefined) params.set(key, value);
        }
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
