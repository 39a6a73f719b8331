// The Export page: start an export (POST /api/export/<pid>/<eid>), follow its job over SSE,
// show the validation verdict and download link, refresh the list, delete, and "try it"
// (POST /api/predict/<pid>/<eid> with one image). The try-it answer's shape follows its
// output_name: logits → top-k bars, score → anomaly verdict at the file's threshold,
// values → each target with its value in original units.
(() => {
  const TERMINAL = ["succeeded", "failed", "cancelled", "interrupted"];

  function errorText(data, response) {
    const err = data && data.error;
    if (err && err.message) {
      const details = err.details && typeof err.details === "object"
        ? Object.values(err.details).flat().filter((v) => typeof v === "string") : [];
      return details.length ? `${err.message} (${details.join("; ")})` : err.message;
    }
    return `The server answered ${response.status} ${response.statusText}.`;
  }

  document.addEventListener("alpine:init", () => {
    Alpine.data("exportPage", () => ({
      project: "", experiment: "", csrf: "", listUrl: "",
      checkpoint: "", format: "onnx", opset: 17, threshold: "", defaults: {},
      running: false, phase: "idle", done: 0, total: 0, message: "", error: "",
      result: null, listError: "",
      dragging: false, preview: null, prediction: null, trying: false, tryError: "",
      events: null, parityThreshold: "",

      init() {
        const d = this.$el.dataset;
        this.project = d.project;
        this.experiment = d.experiment;
        this.csrf = d.csrf;
        this.listUrl = d.listUrl;
        this.opset = Number(d.opsetDefault) || 17;
        this.parityThreshold = d.parityThreshold;
        const defaults = document.getElementById("export-defaults");
        this.defaults = defaults ? JSON.parse(defaults.textContent) || {} : {};
        const select = this.$el.querySelector("[data-testid=checkpoint-select]");
        this.checkpoint = select && select.options.length ? select.options[0].value : "best.ckpt";
      },
      api(path) {
        return `/api/${path}/${this.project}/${this.experiment}`;
      },
      chooseExperiment(id) {
        const url = new URL(window.location.href);
        url.searchParams.set("experiment", id);
        window.location.assign(url.toString());
      },

      // ---- export -------------------------------------------------------
      async start() {
        this.error = "";
        this.result = null;
        const body = { format: this.format, checkpoint: this.checkpoint };
        if (this.format === "onnx") body.opset = this.opset;
        if (String(this.threshold).trim() !== "") body.threshold = String(this.threshold).trim();
        this.running = true;
        try {
          const response = await fetch(this.api("export"), {
            method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRFToken": this.csrf, Accept: "application/json" },
            body: JSON.stringify(body),
          });
          const data = await response.json().catch(() => ({}));
          if (!response.ok) {
            this.error = errorText(data, response);
            this.running = false;
            return;
          }
          this.exportId = data.export_id;
          this.phase = "running";
          this.done = 0;
          this.total = 0;
          this.message = "Waiting for a worker…";
          this.refreshList();
          this.follow(data.events_url);
        } catch (err) {
          this.error = `Studio cannot be reached (${err}). Is the server running?`;
          this.running = false;
        }
      },
      follow(url) {
        if (this.events) this.events.close();
        const events = new EventSource(url);
        this.events = events;
        events.addEventListener("started", () => { this.message = "Starting…"; });
        events.addEventListener("progress", (ev) => {
          const d = JSON.parse(ev.data);
          this.done = d.done;
          this.total = d.total;
          this.message = d.message;
        });
        for (const type of TERMINAL) {
          events.addEventListener(type, (ev) => {
            events.close();
            this.events = null;
            this.finish(type, JSON.parse(ev.data));
          });
        }
      },
      async finish(type, data) {
        this.running = false;
        this.phase = "done";
        if (type !== "succeeded") this.message = data.error || `The export job ${type}.`;
        else this.done = this.total;
        await this.loadResult();
        this.refreshList();
      },
      async loadResult() {
        const response = await fetch(`${this.api("export")}/${this.exportId}`, {
          credentials: "same-origin", headers: { Accept: "application/json" },
        });
        const data = await response.json().catch(() => ({}));
        if (response.ok) {
          this.result = data;
          if (data.validation) this.message = data.validation.message;
        } else {
          this.error = errorText(data, response);
        }
      },
      percent() {
        if (this.phase === "done") return 100;
        return this.total ? Math.round((100 * this.done) / this.total) : 0;
      },
      async refreshList() {
        this.listError = "";
        try {
          await htmx.ajax("GET", this.listUrl, { target: "#export-list", swap: "innerHTML" });
        } catch (err) {
          this.listError = `Could not refresh the list (${err}).`;
        }
      },
      async remove(id) {
        if (!window.confirm("Delete this export and its file?")) return;
        const response = await fetch(`${this.api("export")}/${id}`, {
          method: "DELETE", credentials: "same-origin", headers: { "X-CSRFToken": this.csrf, Accept: "application/json" },
        });
        if (!response.ok) {
          this.listError = errorText(await response.json().catch(() => ({})), response);
          return;
        }
        if (this.result && this.result.id === id) this.result = null;
        this.refreshList();
      },

      // ---- task options -------------------------------------------------
      defaultThreshold() {
        const d = this.defaults[this.checkpoint];
        return d && d.threshold ? d.threshold : "0.5";
      },
      thresholdHint() {
        const d = this.defaults[this.checkpoint];
        if (d && d.threshold_source === "evaluation") {
          return `0–1; empty = ${d.threshold}, the threshold the evaluation of ${this.checkpoint} chose.`;
        }
        return `0–1; empty = 0.5 (${this.checkpoint} has not been evaluated: evaluate it to pick one).`;
      },
      sourceText(source) {
        return { option: "chosen at export", evaluation: "from the evaluation", default: "default" }[source] || source || "";
      },
      thresholdText(r) {
        const s = r.settings || {};
        return s.threshold ? ` · threshold ${s.threshold} (${this.sourceText(s.threshold_source)})` : "";
      },

      // ---- formatting (Alpine's CSP build has no template strings or globals) ----
      resultHead(r) {
        const opset = r.opset ? ` · opset ${r.opset}` : "";
        return `${r.format.toUpperCase()} · ${r.checkpoint}${opset}${this.thresholdText(r)}`;
      },
      numericHint(n) {
        return `${n.images} ${n.source} images, rtol ${n.rtol}, atol ${+n.atol.toPrecision(3)}`;
      },
      parityHint(parity) {
        return parity ? `${parity.images} ${parity.subset} images (needs ${this.parityThreshold} %)` : "no images";
      },
      downloadText(r) {
        return `⬇ Download ${r.download_name} (${this.fmtSize(r.size)})`;
      },
      // A bar at least 1 % wide, so a tiny probability or score is still visible.
      barStyle(fraction) {
        return { width: `${Math.max(1, 100 * fraction)}%` };
      },
      capitalize(text) {
        return text ? text.charAt(0).toUpperCase() + text.slice(1) : "";
      },
      fmtValue(v) {
        const a = Math.abs(v);
        return a !== 0 && (a >= 1e6 || a < 1e-3) ? v.toExponential(4) : Number(v.toPrecision(6)).toString();
      },
      badgeClass(r) {
        if (r.status !== "completed") return "danger";
        return r.validation && r.validation.passed ? "ok" : "danger";
      },
      badgeText(r) {
        if (r.status !== "completed") return `Export ${r.status}`;
        return r.validation && r.validation.passed ? "✓ Validation passed" : "✗ Validation failed";
      },
      // shares (parity agreement, probabilities) and scores: the one vocabulary (format.js)
      pct(v) {
        return window.StudioFormat.value("agreement", v);
      },
      metricValue(name, v) {
        return window.StudioFormat.value(name, v);
      },
      fmtDiff(v) {
        return v === 0 ? "0" : Number(v).toExponential(2);
      },
      delta(parity) {
        if (!parity || parity.accuracy_delta === null) return "—";
        const pts = 100 * parity.accuracy_delta;
        return `${pts >= 0 ? "+" : ""}${pts.toFixed(2)} pts`;
      },
      accuracies(parity) {
        if (!parity || parity.accuracy_reference === null) return "no labelled images";
        const F = window.StudioFormat;
        return `PyTorch ${F.value("accuracy", parity.accuracy_reference)} → export ${F.value("accuracy", parity.accuracy_export)}`;
      },
      fmtSize(bytes) {
        if (!bytes && bytes !== 0) return "";
        const units = ["bytes", "KB", "MB", "GB"];
        let v = bytes;
        let i = 0;
        while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
        return `${i ? v.toFixed(1) : v} ${units[i]}`;
      },

      // ---- try it -------------------------------------------------------
      dropped(ev) {
        this.dragging = false;
        const file = ev.dataTransfer && ev.dataTransfer.files[0];
        if (file) this.predict(file);
      },
      chosen(ev) {
        const file = ev.target.files[0];
        if (file) this.predict(file);
        ev.target.value = "";
      },
      async predict(file) {
        this.tryError = "";
        this.prediction = null;
        if (this.preview) URL.revokeObjectURL(this.preview);
        this.preview = file.type.startsWith("image/") ? URL.createObjectURL(file) : null;
        const body = new FormData();
        body.append("image", file);
        body.append("top_k", "5");
        this.trying = true;
        try {
          const response = await fetch(this.api("predict"), {
            method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": this.csrf, Accept: "application/json" }, body,
          });
          const data = await response.json().catch(() => ({}));
          if (!response.ok) this.tryError = errorText(data, response);
          else this.prediction = data;
        } catch (err) {
          this.tryError = `Studio cannot be reached (${err}). Is the server running?`;
        } finally {
          this.trying = false;
        }
      },
    }));
  });
})();
