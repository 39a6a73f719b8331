// The Evaluation page: config + progress (job SSE), then the evaluated task's metrics and
// per-image results. The server includes one template part per task
// (templates/evaluation/task/<task>.html); this one Alpine component serves them all, and
// what differs per task lives in static/studio/evaluation-<task>.js (views, summary, charts,
// default sort and the methods of its template part):
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
  // metric labels and number formats: the one vocabulary of static/studio/format.js
  const F = window.StudioFormat;
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

  // ---- per-task behaviour ------------------------------------------------
  // Each task has a file static/studio/evaluation-<task>.js that registers a factory in
  // window.StudioEvaluationTasks: shared helpers in, {spec, data, methods} out. spec.views(agg):
  // metrics keyed "all" and by subset (each with a count); spec.summary(page, agg): the config
  // card's one-line result; spec.draw(page): (re)draw the charts; spec.sort: the grid's default;
  // spec.open: results open by default; spec.setup(page): a new evaluation is shown (optional);
  // spec.init(page): once, when the page starts (optional).
  const FACTORIES = window.StudioEvaluationTasks || {};

  Alpine.data("evaluationPage", () => {
    // Chart.js objects live outside Alpine's reactive proxies (they break Chart.js).
    const charts = {};
    let events = null;
    let sequence = 0;

    function destroyCharts() {
      for (const key of Object.keys(charts)) { charts[key].destroy(); delete charts[key]; }
    }

    function chartColors() {
      return { text: cssVar("--text", "#1d2330"), grid: cssVar("--border", "#dde1e8"), muted: cssVar("--muted", "#5d6677"),
        primary: cssVar("--primary", "#2f6fed"), ok: cssVar("--ok", "#1f8a4c"), warn: cssVar("--warn", "#b7791f"),
        danger: cssVar("--danger", "#c9302c") };
    }

    // each task's spec, data and methods (its template part calls them)
    const shared = { charts, chartColors, cssVar, EMPTY_FILTERS, F };
    const TASKS = {};
    const extras = {};
    for (const [name, factory] of Object.entries(FACTORIES)) {
      const part = factory(shared);
      TASKS[name] = part.spec;
      Object.assign(extras, part.data, part.methods);
    }

    return Object.assign({
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
      detailIndex: -1,
      stepping: false,

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
        if (this.spec().init) this.spec().init(this);
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
        if (this.spec().setup) this.spec().setup(this);
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
      // ---- metric names and numbers: one vocabulary for every page (static/studio/format.js)
      metricValue(name, v) {
        return F.value(name, v);
      },
      pct(v) { // a probability or confidence: a share
        return F.value("probability", v);
      },
      headlineText(headline) {
        const [name, value] = headline || ["", null];
        if (value === null || value === undefined) return `${F.label(name)} n/a`;
        return `${F.label(name)} ${F.value(name, value)}`;
      },
      checkpointLabel(c) {
        const tags = [c.best && "best", c.last && "last"].filter(Boolean).join(", ");
        const when = new Date(c.modified).toLocaleString();
        return `${c.name}${tags ? ` (${tags})` : ""} · ${humanBytes(c.size)} · ${when}`;
      },
      // ---- small helpers of the templates (Alpine's CSP build: no template strings, no globals)
      str(v) {
        return String(v);
      },
      widthStyle(fraction, min = 0) {
        return { width: `${Math.max(min, 100 * fraction)}%` };
      },
      leftStyle(fraction) {
        return { left: `${100 * fraction}%` };
      },
      subsetText(s) {
        return `${this.subsetLabel(s)} (${this.splitSizes[s] || 0})`;
      },
      failureText() {
        return this.evaluation.error || `The evaluation ${this.evaluation.status}.`;
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
      csvLabel() {
        return this.hasFilters() ? "Download CSV (filtered)" : "Download CSV";
      },
      csvTitle() {
        return this.hasFilters() ? `Only the ${this.count} image${this.count === 1 ? "" : "s"} that match the filters` : "Every evaluated image";
      },

      // ---- the detail view: ← → step through the results, across pages; Esc closes
      openDetail(r) {
        this.detail = r;
        this.detailIndex = this.results.indexOf(r);
      },
      closeDetail() {
        this.detail = null;
      },
      canStep(delta) {
        const next = this.detailIndex + delta;
        if (next >= 0 && next < this.results.length) return true;
        return delta > 0 ? this.page < this.pages : this.page > 1;
      },
      async stepDetail(delta) {
        if (this.stepping || !this.detail) return;
        const next = this.detailIndex + delta;
        if (next >= 0 && next < this.results.length) {
          this.openDetail(this.results[next]);
          return;
        }
        if (!this.canStep(delta)) return;
        this.stepping = true; // one page load at a time, however fast the key repeats
        try {
          this.page += delta;
          await this.loadResults();
          if (this.detail && this.results.length) this.openDetail(this.results[delta > 0 ? 0 : this.results.length - 1]);
        } finally {
          this.stepping = false;
        }
      },
      detailKey(ev) {
        if (!this.detail) return;
        if (ev.key === "ArrowRight") { ev.preventDefault(); this.stepDetail(1); }
        else if (ev.key === "ArrowLeft") { ev.preventDefault(); this.stepDetail(-1); }
        else if (ev.key === "Escape") this.closeDetail();
      },
      detailPosition() {
        if (!this.detail) return "";
        const n = (this.page - 1) * PAGE_SIZE + this.detailIndex + 1;
        return `${n} of ${this.count}`;
      },
    }, extras);
  });
});
