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
        plugins: { legend: { labels: { color: text, boxWidth: 12 } }, tooltip: { mode: "nearest", intersect: false } },
        scales: {
          x: { type: "linear", title: { display: true, text: "epoch", color: text }, ticks: { color: text }, grid: { color: grid } },
          y: { title: { display: true, text: yTitle, color: text }, ticks: { color: text }, grid: { color: grid } },
        },
      },
    });
  }

  document.addEventListener("alpine:init", () => {
    // The selected run's live status and epochs, for its entry in the list.
    window.Alpine.store("run", { status: "", epochs_done: null });

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
        init() {
          this.$watch("values.model", () => { if (!this.pretrainedAvailable) this.values.pretrained = false; });
          if (!this.pretrainedAvailable) this.values.pretrained = false;
        },
        get currentModel() { return this.models.find((m) => m.key === this.values.model); },
        get pretrainedAvailable() { return !!(this.currentModel && this.currentModel.pretrained_available); },
        labelOf: humanize,
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
        async init() {
          this.monitor = this.$root.dataset.monitor || (this.exp.best_metric && this.exp.best_metric.name) || "";
          this.mode = this.$root.dataset.monitorMode === "min" ? "min" : "max";
          window.Alpine.store("run").status = this.exp.status;
          window.Alpine.store("run").epochs_done = this.exp.epochs_done;
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
          return `${duration(p.eta_s)} left · ${p.images_per_s} images/s`;
        },
        get finalMetrics() {
          return Object.entries(this.exp.final_metrics || {}).filter(([k]) => k !== "lr");
        },
        fmt(v) { return typeof v === "number" ? (Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(4)) : v; },
        betterText() { return this.mode === "min" ? "lower is better" : "higher is better"; },
        setStatus(status) {
          this.exp.status = status;
          window.Alpine.store("run").status = status;
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
          on("queued", () => this.setStatus("queued"));
          on("preparing", (d) => { if (d.stage === "cache") this.preparing = d; });
          on("training_started", (d) => { this.preparing = null; this.setStatus("running"); this.exp.epochs = d.epochs; });
          on("progress", (d) => this.onProgress(d));
          on("epoch_end", (d) => this.onEpoch(d.metrics));
          on("checkpoint_saved", (d) => { this.hint = `Saved ${d.kind} checkpoint (epoch ${d.epoch}).`; });
          on("cancel_requested", () => { this.exp.stop_requested = true; });
          on("finished", (d) => { this.setStatus("completed"); this.hint = `Training completed after ${d.epochs_done} epoch(s).`; });
          on("stopped", (d) => { this.hint = d.reason || "Stopped."; });
          JOB_END.forEach((type) => on(type, (d) => {
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
          if (typeof d.loss === "number" && d.batches) {
            const x = d.epoch - 1 + d.batch / d.batches;
            while (this.batchPoints.length && this.batchPoints[this.batchPoints.length - 1].x >= x) this.batchPoints.pop();
            this.batchPoints.push({ x, y: d.loss });
            this.updateCharts();
          }
        },
        onEpoch(row) {
          this.rows = this.rows.filter((r) => r.epoch < row.epoch).concat([row]);
          this.exp.epochs_done = row.epoch;
          window.Alpine.store("run").epochs_done = row.epoch;
          const final = {};
          Object.entries(row).forEach(([k, v]) => { if (k !== "epoch" && k !== "time_s" && typeof v === "number") final[k] = v; });
          this.exp.final_metrics = final;
          this.updateCharts();
        },
        async refresh() {
          try {
            const exp = await api(this.$root.dataset.url, "GET", "");
            this.exp = exp;
            this.setStatus(exp.status);
            window.Alpine.store("run").epochs_done = exp.epochs_done;
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
            { label: "train loss (batches)", data: this.batchPoints.map((p) => ({ ...p })), borderColor: muted, borderWidth: 1, pointRadius: 0 },
            { label: "train loss", data: series("train_loss"), borderColor: PALETTE[0], backgroundColor: PALETTE[0], pointRadius: 3 },
            { label: "val loss", data: series("val_loss"), borderColor: PALETTE[1], backgroundColor: PALETTE[1], pointRadius: 3 },
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
              metricSets[k] = { label: k, borderColor: color, backgroundColor: color, pointRadius: 3, hidden: !shown(k) };
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
            .map((ds, i) => `${ds.label}${metricChart.isDatasetVisible(i) ? "" : " (hidden)"}`).join(",");
        },
      };
    });
  });
})();
