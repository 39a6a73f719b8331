// The Training page: the new-experiment form (built from GET /api/tasks/'s describe()) and
// the run panel (status, progress + ETA, live loss/metric curves fed by the SSE stream).
(() => {
  const ACTIVE = ["queued", "running"];
  const JOB_END = ["succeeded", "failed", "cancelled", "interrupted"];
  const LABELS = { lr: "Learning rate", batch_size: "Batch size", image_size: "Image size (px)" };
  const PALETTE = ["#2f6fed", "#d9822b", "#1f9d6b", "#c2255c", "#7048e8", "#0c8599"];

  function cssVar(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }
  function jsonScript(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  async function api(url, method, csrf, body) {
    const res = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error((data.error && data.error.message) || `The server answered ${res.status}.`);
      err.details = (data.error && data.error.details) || {};
      throw err;
    }
    return data;
  }
  function humanize(name) {
    return LABELS[name] || name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
  }
  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  }

  // Axis ticks and tooltips follow the metric vocabulary (static/studio/format.js): each
  // dataset carries its metric key; a y axis whose visible series are all shares reads in %.
  function yTicks(value) {
    const chart = this.chart;
    const keys = chart.data.datasets.filter((ds, i) => chart.isDatasetVisible(i)).map((ds) => ds.metricKey);
    const share = keys.length > 0 && keys.every((k) => window.StudioFormat.kind(k) === "share");
    return window.StudioFormat.ticks(share ? keys[0] : "")(value);
  }
  const tooltipCallbacks = {
    title: (items) => (items.length ? `epoch ${+items[0].parsed.x.toFixed(2)}` : ""),
    label: (ctx) => `${window.StudioFormat.label(ctx.dataset.metricKey)}${ctx.dataset.suffix || ""}: ${window.StudioFormat.value(ctx.dataset.metricKey, ctx.parsed.y)}`,
  };

  // Chart.js objects live outside Alpine's reactive proxies (proxies break Chart.js).
  function lineChart(canvas, yTitle) {
    const text = cssVar("--text", "#1d2330");
    const grid = cssVar("--border", "#dde1e8");
    return new window.Chart(canvas, {
      type: "line",
      data: { datasets: [] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        parsing: false,
        plugins: { legend: { labels: { color: text, boxWidth: 12 } }, tooltip: { mode: "nearest", intersect: false, callbacks: tooltipCallbacks } },
        scales: {
          x: { type: "linear", title: { display: true, text: "epoch", color: text }, ticks: { color: text }, grid: { color: grid } },
          y: { title: { display: true, text: yTitle, color: text }, ticks: { color: text, callback: yTicks }, grid: { color: grid } },
        },
      },
    });
  }

  document.addEventListener("alpine:init", () => {
    // The selected run's entry in the list reads this store; only the run panel writes it
    // (syncStore), from the same experiment object and SSE events the panel shows.
    window.Alpine.store("run", { status: "", epochs_done: null, metricText: "" });

    window.Alpine.data("trainingForm", () => {
      const data = jsonScript("training-form-data");
      const d = data.describe;
      const hyper = d.hyperparameters.filter((f) => f.name !== "model" && f.name !== "pretrained");
      const values = { augment: {} };
      d.hyperparameters.forEach((f) => { values[f.name] = f.default; });
      d.augmentations.forEach((f) => { values.augment[f.name] = f.default; });
      return {
        name: "",
        splits: data.splits,
        splitId: data.splits.length ? data.splits[data.splits.length - 1].id : "",
        models: d.models,
        values,
        mainFields: data.main.map((n) => hyper.find((f) => f.name === n)).filter(Boolean),
        advancedFields: hyper.filter((f) => !data.main.includes(f.name)),
        augmentations: d.augmentations,
        types: Object.fromEntries([...d.hyperparameters, ...d.augmentations.map((f) => ({ ...f, name: `augment.${f.name}` }))].map((f) => [f.name, f.type])),
        showAugment: false,
        showAdvanced: false,
        errors: {},
        error: "",
        busy: false,
        // the image size suggested per model from the images' median size (null: no images)
        sizeHint: data.image_size_hint,
        sizeTouched: false,
        estimateText: "",
        estimateError: "",
        estimateTimer: null,
        estimateSeq: 0,
        init() {
          this.$watch("values.model", () => {
            if (!this.pretrainedAvailable) this.values.pretrained = false;
            if (!this.sizeTouched && this.suggestedSize) this.values.image_size = this.suggestedSize;
          });
          if (!this.pretrainedAvailable) this.values.pretrained = false;
          if (this.suggestedSize) this.values.image_size = this.suggestedSize;
          // a size typed by the user sticks when the model changes
          this.$watch("values.image_size", (v) => { if (Number(v) !== this.suggestedSize) this.sizeTouched = true; });
          ["values.model", "values.image_size", "values.batch_size", "values.epochs", "splitId"].forEach((key) => this.$watch(key, () => this.scheduleEstimate()));
          this.scheduleEstimate();
        },
        get suggestedSize() {
          return this.sizeHint ? this.sizeHint.per_model[this.values.model] || 0 : 0;
        },
        // why the image size is what it is (shown under the field)
        sizeNote() {
          const h = this.sizeHint;
          if (!h || !this.suggestedSize) return "";
          let text = `Suggested from your images' median size ${h.median_width}×${h.median_height}`;
          const side = Math.sqrt(h.median_width * h.median_height);
          const native = h.native[this.values.model];
          if (side > native + 16 && this.suggestedSize === native) text += ` (capped at ${native} px, the size ${this.currentModel.label} was designed for)`;
          else if (side < h.min) text += ` (raised to ${h.min} px, the smallest size these models handle well)`;
          return Number(this.values.image_size) === this.suggestedSize ? `${text}.` : `${text}: ${this.suggestedSize} px.`;
        },
        // Ask the server how long an epoch takes on this machine (debounced; the newest answer wins).
        scheduleEstimate() {
          clearTimeout(this.estimateTimer);
          this.estimateTimer = setTimeout(() => this.fetchEstimate(), 400);
        },
        async fetchEstimate() {
          const el = this.$root;
          const v = this.values;
          const params = new URLSearchParams({ model: v.model, image_size: v.image_size, batch_size: v.batch_size });
          if (this.splitId) params.set("split", this.splitId);
          if (Number(v.epochs) >= 1) params.set("epochs", v.epochs);
          const seq = (this.estimateSeq || 0) + 1;
          this.estimateSeq = seq;
          this.estimateError = "";
          try {
            const result = await api(`${el.dataset.estimateUrl}?${params}`, "GET", "");
            if (seq !== this.estimateSeq) return;
            this.estimateText = result.label;
          } catch (err) {
            if (seq !== this.estimateSeq) return;
            this.estimateText = "";
            this.estimateError = `No time estimate: ${err.message}`;
          }
        },
        get currentModel() { return this.models.find((m) => m.key === this.values.model); },
        get pretrainedAvailable() { return !!(this.currentModel && this.currentModel.pretrained_available); },
        labelOf: humanize,
        splitText(s) { return `${s.name} — ${s.train} train / ${s.val} val / ${s.test} test`; },
        pretrainedNote() {
          const label = this.currentModel ? this.currentModel.label : "this model";
          return `Pretrained weights for ${label} are not on this machine and cannot be downloaded offline, so it will be trained from scratch. To use them, run “manage.py fetch_weights ${this.values.model}” on a machine with internet access (or import a weights file), then reload this page.`;
        },
        formatParams(n) { return n >= 1e6 ? `${(n / 1e6).toFixed(1)} M parameters` : `${Math.round(n / 1e3)} k parameters`; },
        fieldError(key) { return (this.errors[key] || []).join(" "); },
        // Numbers typed into inputs arrive as strings; send numbers (or the raw text, so
        // the server names the field that is not a number).
        coerce(key, value) {
          const type = this.types[key];
          if ((type === "int" || type === "float") && typeof value === "string") {
            const n = Number(value);
            return value.trim() !== "" && Number.isFinite(n) ? n : value;
          }
          return value;
        },
        config() {
          const out = { augment: {} };
          Object.entries(this.values).forEach(([k, v]) => { if (k !== "augment") out[k] = this.coerce(k, v); });
          Object.entries(this.values.augment).forEach(([k, v]) => { out.augment[k] = this.coerce(`augment.${k}`, v); });
          return out;
        },
        async submit(start = true) {
          this.busy = true;
          this.error = "";
          this.errors = {};
          const el = this.$root;
          try {
            const exp = await api(el.dataset.createUrl, "POST", el.dataset.csrf, {
              name: this.name, split_id: this.splitId, config: this.config(), start,
            });
            window.location.assign(`${el.dataset.pageUrl}?exp=${exp.id}`);
          } catch (err) {
            this.error = err.message;
            this.errors = err.details || {};
            const hidden = Object.keys(this.errors).some((k) => k.startsWith("augment."));
            if (hidden) this.showAugment = true;
            if (Object.keys(this.errors).some((k) => this.advancedFields.some((f) => f.name === k))) this.showAdvanced = true;
            this.busy = false;
          }
        },
      };
    });

    window.Alpine.data("trainingRun", () => {
      let lossChart = null;
      let metricChart = null;
      let source = null;
      // one Chart.js dataset per metric, kept across updates so legend clicks stick
      let metricSets = {};
      return {
        exp: jsonScript("experiment-data"),
        // the task's monitored metric picks the best checkpoint; "min" = lower is better
        monitor: "",
        mode: "max",
        hiddenMetrics: [],
        rows: [],
        batchPoints: [],
        progress: null,
        preparing: null,
        lastId: 0,
        busy: false,
        actionError: "",
        hint: "",
        // the status the hint belongs to: a hint is cleared when the status changes
        hintStatus: "",
        // throughput of the current run segment (a resume starts a new one): its first
        // progress event, and images/s once a later one arrived (0 = not measured yet)
        segment: null,
        imagesPerS: 0,
        async init() {
          this.monitor = this.$root.dataset.monitor || (this.exp.best_metric && this.exp.best_metric.name) || "";
          this.mode = this.$root.dataset.monitorMode === "min" ? "min" : "max";
          this.hintStatus = this.exp.status;
          this.syncStore();
          this.drawCharts();
          new MutationObserver(() => this.drawCharts()).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
          try {
            this.rows = await api(this.exp.metrics_url, "GET", "");
          } catch (err) {
            this.actionError = err.message;
          }
          this.updateCharts();
          if (ACTIVE.includes(this.exp.status)) this.listen();
        },
        get percent() {
          if (this.progress && this.progress.total) return Math.min(100, (100 * this.progress.done) / this.progress.total);
          if (this.exp.epochs) return (100 * this.exp.epochs_done) / this.exp.epochs;
          return 0;
        },
        get progressLabel() {
          if (this.exp.status === "queued") return "Waiting for a worker to pick the run up…";
          if (this.preparing) return `Preparing images ${this.preparing.done} / ${this.preparing.total}`;
          if (this.progress) return this.progress.message || "Training…";
          return "Starting…";
        },
        get etaLabel() {
          const p = this.progress;
          if (!p || this.exp.status !== "running" || p.eta_s === undefined) return "";
          const left = `${duration(p.eta_s)} left`;
          return this.imagesPerS > 0 ? `${left} · ${this.imagesPerS.toFixed(this.imagesPerS < 10 ? 1 : 0)} images/s` : left;
        },
        get warnings() { return this.exp.warnings || []; },
        // finished runs with a checkpoint can be evaluated (the Evaluation page takes ?experiment=)
        get evaluable() {
          return !ACTIVE.includes(this.exp.status) && this.exp.status !== "draft" && !!(this.exp.best_checkpoint || this.exp.last_checkpoint);
        },
        evaluateUrl() { return `${this.$root.dataset.evaluationUrl}?experiment=${encodeURIComponent(this.exp.id)}`; },
        get finalMetrics() {
          return Object.entries(this.exp.final_metrics || {}).filter(([k]) => k !== "lr");
        },
        // the metric vocabulary (static/studio/format.js): one label and format on every page
        metricLabel(k) { return window.StudioFormat.label(k); },
        metricPhrase(k) { return window.StudioFormat.phrase(k); },
        metricHelp(k) { return window.StudioFormat.help(k); },
        metricValue(k, v) { return window.StudioFormat.value(k, v); },
        betterText() { return this.mode === "min" ? "lower is better" : "higher is better"; },
        metricNote() {
          const hidden = this.hiddenMetrics.map((k) => window.StudioFormat.short(k));
          const others = hidden.length ? ` Other scales (${hidden.join(", ")}): click the legend.` : "";
          return `The best checkpoint has the ${this.mode === "min" ? "lowest" : "highest"} ${window.StudioFormat.phrase(this.monitor)}.${others}`;
        },
        setStatus(status) {
          this.exp.status = status;
          if (status !== this.hintStatus) {
            this.hint = ""; // "Stopped on request…" must not outlive the stop
            this.hintStatus = status;
          }
          this.syncStore();
        },
        // the list entry of this run: status, epochs, best metric and val loss, from this.exp
        syncStore() {
          const store = window.Alpine.store("run");
          const F = window.StudioFormat;
          store.status = this.exp.status;
          store.epochs_done = this.exp.epochs_done;
          const best = this.exp.best_metric;
          const valLoss = (this.exp.final_metrics || {}).val_loss;
          let text = best ? `best: ${F.short(best.name)} ${F.value(best.name, best.value)}` : "";
          if (best && typeof valLoss === "number") text += ` · ${F.short("val_loss")} ${F.value("val_loss", valLoss)}`;
          store.metricText = text;
        },
        listen() {
          if (source) source.close();
          const url = `${this.exp.events_url}${this.lastId ? `?last_event_id=${this.lastId}` : ""}`;
          source = new EventSource(url);
          const on = (type, fn) => source.addEventListener(type, (ev) => {
            const id = Number(ev.lastEventId || 0);
            if (id && id <= this.lastId) return; // already seen (a replay after reconnecting)
            if (id) this.lastId = id;
            fn(JSON.parse(ev.data));
          });
          // a new run (start or resume): what the last one said about stopping is over
          on("queued", () => { this.exp.stop_requested = false; this.setStatus("queued"); });
          on("preparing", (d) => { if (d.stage === "cache") this.preparing = d; });
          on("training_started", (d) => { this.preparing = null; this.exp.stop_requested = false; this.setStatus("running"); this.exp.epochs = d.epochs; });
          on("progress", (d) => this.onProgress(d));
          on("epoch_end", (d) => this.onEpoch(d.metrics));
          on("checkpoint_saved", (d) => {
            if (d.kind === "best" && typeof d.value === "number") {
              this.exp.best_metric = { name: d.metric, value: d.value, epoch: d.epoch };
              this.syncStore();
            }
            this.hint = `Saved ${d.kind} checkpoint (epoch ${d.epoch}).`;
          });
          on("cancel_requested", () => { this.exp.stop_requested = true; });
          on("finished", (d) => { this.setStatus("completed"); this.hint = `Training completed after ${d.epochs_done} epoch(s).`; });
          on("stopped", (d) => { this.setStatus(d.status || "stopped"); this.hint = d.reason || "Stopped."; });
          JOB_END.forEach((type) => on(type, (d) => {
            // the end of an earlier run, replayed after a resume: the current run goes on
            if (d.run && (this.exp.jobs || []).length > d.run) return;
            if (type === "failed") { this.exp.error = d.error || d.reason || ""; this.setStatus("failed"); }
            this.refresh();
          }));
          source.onerror = () => {
            // EventSource reconnects by itself (with Last-Event-ID); stop once the run is over.
            if (!ACTIVE.includes(this.exp.status)) source.close();
          };
        },
        onProgress(d) {
          this.preparing = null;
          if (this.exp.status === "queued") this.setStatus("running");
          this.progress = d;
          this.measureThroughput(d);
          if (typeof d.loss === "number" && d.batches) {
            const x = d.epoch - 1 + d.batch / d.batches;
            while (this.batchPoints.length && this.batchPoints[this.batchPoints.length - 1].x >= x) this.batchPoints.pop();
            this.batchPoints.push({ x, y: d.loss });
            this.updateCharts();
          }
        },
        // images/s over the current run segment, from the events' own times (right on a replay)
        measureThroughput(d) {
          const at = Date.parse(d.at);
          if (!this.segment || this.segment.run !== d.run || d.done < this.segment.done) {
            this.segment = { run: d.run, at, done: d.done };
            this.imagesPerS = 0;
            return;
          }
          const seconds = (at - this.segment.at) / 1000;
          const batch = Number((this.exp.config || {}).batch_size) || 0;
          if (seconds >= 1 && d.done > this.segment.done && batch) this.imagesPerS = ((d.done - this.segment.done) * batch) / seconds;
        },
        onEpoch(row) {
          this.rows = this.rows.filter((r) => r.epoch < row.epoch).concat([row]);
          this.exp.epochs_done = row.epoch;
          const final = {};
          Object.entries(row).forEach(([k, v]) => { if (k !== "epoch" && k !== "time_s" && typeof v === "number") final[k] = v; });
          this.exp.final_metrics = final;
          this.syncStore();
          this.updateCharts();
          this.refreshWarnings();
        },
        // the server decides warnings (chance level…) from the finished epochs
        async refreshWarnings() {
          if (this.exp.epochs_done < 2) return;
          try {
            const exp = await api(this.$root.dataset.url, "GET", "");
            this.exp.warnings = exp.warnings;
          } catch (err) {
            // the next epoch tries again; the panel keeps what it shows
          }
        },
        async refresh() {
          try {
            const exp = await api(this.$root.dataset.url, "GET", "");
            this.exp = exp;
            this.setStatus(exp.status);
            if (!ACTIVE.includes(exp.status) && source) { source.close(); source = null; }
            this.rows = await api(exp.metrics_url, "GET", "");
            this.updateCharts();
          } catch (err) {
            this.actionError = err.message;
          }
        },
        async act(action) {
          this.busy = true;
          this.actionError = "";
          try {
            const exp = await api(`${this.$root.dataset.url}/${action}`, "POST", this.$root.dataset.csrf);
            this.exp = exp;
            this.setStatus(exp.status);
            this.hint = action === "stop" ? "Stopping after the current batch…" : "";
            if (ACTIVE.includes(exp.status)) this.listen();
          } catch (err) {
            this.actionError = err.message;
          }
          this.busy = false;
        },
        async remove() {
          if (!window.confirm(`Delete "${this.exp.name}"? Its folder (checkpoints included) moves to the project's trash.`)) return;
          try {
            await api(this.$root.dataset.url, "DELETE", this.$root.dataset.csrf);
            window.location.assign(this.$root.dataset.pageUrl);
          } catch (err) {
            this.actionError = err.message;
          }
        },
        drawCharts() {
          if (!window.Chart) return;
          if (lossChart) lossChart.destroy();
          if (metricChart) metricChart.destroy();
          lossChart = lineChart(this.$refs.loss, "loss");
          metricChart = lineChart(this.$refs.metrics, "value");
          metricSets = {};
          this.updateCharts();
        },
        updateCharts() {
          if (!lossChart || !metricChart) return;
          const rows = [...this.rows].sort((a, b) => a.epoch - b.epoch);
          const series = (key) => rows.filter((r) => typeof r[key] === "number").map((r) => ({ x: r.epoch, y: r[key] }));
          const muted = cssVar("--muted", "#5d6677");
          lossChart.data.datasets = [
            { label: `${window.StudioFormat.short("train_loss")} (batches)`, metricKey: "train_loss", suffix: " (batch)", data: this.batchPoints.map((p) => ({ ...p })), borderColor: muted, borderWidth: 1, pointRadius: 0 },
            { label: window.StudioFormat.short("train_loss"), metricKey: "train_loss", data: series("train_loss"), borderColor: PALETTE[0], backgroundColor: PALETTE[0], pointRadius: 3 },
            { label: window.StudioFormat.short("val_loss"), metricKey: "val_loss", data: series("val_loss"), borderColor: PALETTE[1], backgroundColor: PALETTE[1], pointRadius: 3 },
          ];
          const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => k.startsWith("val_") && k !== "val_loss");
          keys.sort((a, b) => (b === this.monitor) - (a === this.monitor)); // the monitored metric first
          // One y axis: next to the monitored metric show only metrics on its scale (scores in
          // 0..1 next to a 0..1 score). Errors in target units (mae, mse, rmse) and r2 do not
          // mix, so all but the monitored one start hidden; a legend click shows them.
          const unit = (k) => series(k).every((p) => p.y >= -1e-9 && p.y <= 1 + 1e-9);
          const monitorUnit = keys.includes(this.monitor) ? unit(this.monitor) : true;
          const shown = (k) => !keys.includes(this.monitor) || k === this.monitor || (monitorUnit && unit(k));
          metricChart.data.datasets = keys.map((k, i) => {
            if (!metricSets[k]) {
              const color = PALETTE[i % PALETTE.length];
              metricSets[k] = { label: window.StudioFormat.short(k), metricKey: k, borderColor: color, backgroundColor: color, pointRadius: 3, hidden: !shown(k) };
            }
            const set = metricSets[k];
            set.data = series(k);
            set.borderWidth = k === this.monitor ? 3 : 1.5;
            return set;
          });
          this.hiddenMetrics = keys.filter((k) => metricSets[k].hidden);
          // Chart.js fits the y axis to the data: a score that moves by 1e-7 would be drawn as a
          // cliff. Keep at least a span of 0.05 for 0..1 scores (inside 0..1) and of 1 % of the
          // value for the others.
          const values = keys.filter((k) => !metricSets[k].hidden).flatMap((k) => series(k).map((p) => p.y));
          const y = metricChart.options.scales.y;
          y.min = undefined;
          y.max = undefined;
          if (values.length) {
            const lo = Math.min(...values);
            const hi = Math.max(...values);
            const span = monitorUnit ? 0.05 : Math.max(1e-6, 0.01 * Math.max(Math.abs(lo), Math.abs(hi)));
            if (hi - lo < span) {
              const mid = (lo + hi) / 2;
              y.min = mid - span / 2;
              y.max = mid + span / 2;
              if (monitorUnit && y.max > 1) { y.max = 1; y.min = 1 - span; }
              if (monitorUnit && y.min < 0) { y.min = 0; y.max = span; }
            }
          }
          // the whole run on the x axis, so progress reads left to right
          [lossChart, metricChart].forEach((chart) => { chart.options.scales.x.min = 0; chart.options.scales.x.max = this.exp.epochs || undefined; });
          lossChart.update("none");
          metricChart.update("none");
          const count = (chart) => chart.data.datasets.reduce((n, ds) => n + ds.data.length, 0);
          this.$refs.loss.dataset.points = String(count(lossChart));
          this.$refs.metrics.dataset.points = String(count(metricChart));
          // for tests and curious users: which series are drawn, which start hidden
          this.$refs.metrics.dataset.series = metricChart.data.datasets
            .map((ds, i) => `${ds.metricKey}${metricChart.isDatasetVisible(i) ? "" : " (hidden)"}`).join(",");
        },
      };
    });
  });
})();
