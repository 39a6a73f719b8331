// The Dataset page: import dialog (API + job SSE), image viewer (← → Esc), class chart.
// Registered before Alpine starts (this file is deferred ahead of alpine-csp.min.js). Alpine's
// CSP build evaluates the templates' expressions without eval, so anything beyond property
// access, operators and method calls (template strings, globals, `new`) lives here as a method.
document.addEventListener("alpine:init", () => {
  const TERMINAL = ["succeeded", "failed", "cancelled", "interrupted"];

  Alpine.data("datasetPage", () => ({
    project: "",
    csrf: "",
    reportUrl: "",
    // import dialog
    importOpen: false,
    phase: "form", // form → running → done
    source: "folder",
    format: "class_folders",
    path: "",
    annotations: "",
    label: "",
    busy: false,
    error: "",
    status: "",
    done: 0,
    total: 0,
    message: "",
    jobId: "",
    importId: "",
    events: null,
    // viewer
    viewerOpen: false,
    index: -1,
    image: null,
    viewerError: "",
    resized: 0,
    chart: null,
    // filters: the one selected class (the class menu is bound to it with x-model, the
    // sidebar reads it) and the sidebar's counts, of the subset the grid shows
    selectedClass: "",
    sideCounts: { counts: {}, total: 0, subset: "" },

    init() {
      this.project = this.$el.dataset.project;
      this.csrf = this.$el.dataset.csrf;
      this.reportUrl = this.$el.dataset.reportUrl;
      this.format = this.$el.dataset.defaultFormat || this.format; // the task's usual format
      this.selectedClass = this.$el.dataset.class || "";
      this.readSideCounts();
      // Every grid swap (filter, page, history) brings the counts of its subset along.
      document.body.addEventListener("htmx:afterSwap", (ev) => {
        if (ev.detail.target && ev.detail.target.id === "grid") {
          this.readSideCounts();
          this.drawChart();
        }
      });
      this.drawChart();
      new MutationObserver(() => this.drawChart()).observe(document.documentElement, {
        attributes: true, attributeFilter: ["data-theme"],
      });
    },

    // ---- filters --------------------------------------------------------
    filterClass(value) {
      const form = document.getElementById("grid-filters");
      if (!form) return;
      this.selectedClass = value;
      const select = form.querySelector("select[name=class]");
      if (select) select.value = value; // x-model updates it too, but only on the next tick
      htmx.trigger(form, "change");
    },
    isClass(value) {
      return this.selectedClass === value;
    },
    itemClass(value) {
      return { active: this.selectedClass === value };
    },
    readSideCounts() {
      const el = document.getElementById("side-counts");
      if (el && el.dataset.counts) this.sideCounts = JSON.parse(el.dataset.counts);
    },
    countOf(value) {
      if (value === "") return this.sideCounts.total;
      return this.sideCounts.counts[value] || 0;
    },
    optionText(option) {
      return `${option.dataset.label} (${this.countOf(option.value)})`;
    },
    scopeText() {
      return this.sideCounts.subset ? `Counts in ${this.sideCounts.subset}` : "Counts in the whole dataset";
    },

    // ---- import ---------------------------------------------------------
    openImport() {
      if (this.phase === "done") this.resetImport();
      this.importOpen = true;
    },
    closeImport() {
      if (this.phase === "running") return; // keep following; the dialog stays until the end
      this.importOpen = false;
      if (this.phase === "done") this.finishImport();
    },
    resetImport() {
      this.phase = "form";
      Object.assign(this, { error: "", status: "", done: 0, total: 0, message: "", jobId: "", importId: "" });
      const slot = document.getElementById("import-report");
      if (slot) slot.replaceChildren();
    },
    async submitImport() {
      this.error = "";
      const headers = { "X-CSRFToken": this.csrf, Accept: "application/json" };
      let body;
      if (this.source === "folder") {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify({ source: "folder", format: this.format, path: this.path, annotations: this.annotations });
      } else {
        const input = this.source === "zip" ? this.$refs.zip : this.$refs.files;
        if (!input.files.length) { this.error = "Choose a file to upload."; return; }
        body = new FormData();
        body.append("source", this.source);
        body.append("format", this.format);
        body.append("annotations", this.annotations);
        body.append("label", this.label);
        for (const file of input.files) {
          body.append("files", file);
          body.append("relative_path", file.webkitRelativePath || file.name);
        }
      }
      this.busy = true;
      try {
        const response = await fetch(`/api/datasets/${this.project}/import`, {
          method: "POST", headers, body, credentials: "same-origin",
        });
        const data = await response.json().catch(() => ({}));
        if (!response.ok) {
          this.error = errorText(data, response);
          return;
        }
        this.jobId = data.job_id;
        this.importId = data.import_id;
        this.phase = "running";
        this.status = "queued";
        this.message = "Waiting for a worker…";
        this.follow(data.events_url);
      } catch (err) {
        this.error = `Studio cannot be reached (${err}). Is the server running?`;
      } finally {
        this.busy = false;
      }
    },
    follow(url) {
      const events = new EventSource(url);
      this.events = events;
      events.addEventListener("started", () => { this.status = "running"; this.message = "Starting…"; });
      events.addEventListener("progress", (ev) => {
        const d = JSON.parse(ev.data);
        this.status = "running";
        this.done = d.done;
        this.total = d.total;
        this.message = d.message;
      });
      for (const type of TERMINAL) {
        events.addEventListener(type, (ev) => {
          events.close();
          this.finish(type, JSON.parse(ev.data));
        });
      }
    },
    async finish(type, data) {
      this.status = type;
      this.phase = "done";
      if (type === "succeeded" && this.total) this.done = this.total;
      this.message = type === "succeeded" ? "Import finished" : data.error || `The import ${type}`;
      await htmx.ajax("GET", `${this.reportUrl}${this.importId}`, { target: "#import-report", swap: "innerHTML" });
    },
    async cancelImport() {
      if (!this.jobId) return;
      await fetch(`/api/jobs/${this.jobId}/cancel`, {
        method: "POST", headers: { "X-CSRFToken": this.csrf }, credentials: "same-origin",
      });
      this.message = "Cancelling…";
    },
    finishImport() {
      window.location.reload();
    },
    statusText() {
      return {
        queued: "Queued", running: "Importing…", succeeded: "Import finished", failed: "Import failed",
        cancelled: "Import cancelled", interrupted: "Import interrupted",
      }[this.status] || this.status;
    },
    percent() {
      if (this.phase === "done" && this.status === "succeeded") return 100;
      return this.total ? Math.round((100 * this.done) / this.total) : 0;
    },

    // ---- viewer ---------------------------------------------------------
    items() {
      return [...document.querySelectorAll("#grid [data-image-id]")];
    },
    count() {
      return this.items().length;
    },
    openViewer(i) {
      this.index = i;
      this.viewerOpen = true;
      this.load();
    },
    closeViewer() {
      this.viewerOpen = false;
      this.image = null;
    },
    async load() {
      const el = this.items()[this.index];
      if (!el) return;
      this.viewerError = "";
      try {
        const response = await fetch(`/api/datasets/${this.project}/images/${el.dataset.imageId}`, {
          credentials: "same-origin", headers: { Accept: "application/json" },
        });
        const data = await response.json();
        if (!response.ok) { this.viewerError = errorText(data, response); return; }
        this.image = data;
      } catch (err) {
        this.viewerError = `Could not load the image (${err}).`;
      }
    },
    async step(delta) {
      const next = this.index + delta;
      if (next >= 0 && next < this.count()) {
        this.index = next;
        this.load();
        return;
      }
      const link = document.querySelector(delta > 0 ? "#grid [data-next-page]" : "#grid [data-prev-page]");
      if (!link) return;
      await htmx.ajax("GET", link.dataset.url, { target: "#grid", swap: "innerHTML" });
      history.replaceState(null, "", link.dataset.url);
      this.index = delta > 0 ? 0 : this.count() - 1;
      this.load();
    },
    key(ev) {
      if (this.viewerOpen) {
        if (ev.key === "ArrowRight") { ev.preventDefault(); this.step(1); }
        else if (ev.key === "ArrowLeft") { ev.preventDefault(); this.step(-1); }
        else if (ev.key === "Escape") this.closeViewer();
      } else if (this.importOpen && ev.key === "Escape") {
        this.closeImport();
      }
    },
    // The image is scaled to fit the stage (small images are enlarged, pixelated past 2×);
    // the box overlay shares the same box, so coordinates stay in image pixels.
    scale() {
      void this.resized;
      if (!this.image || !this.$refs.stage) return 1;
      const w = this.$refs.stage.clientWidth - 112;
      const h = this.$refs.stage.clientHeight - 24;
      return Math.max(0.01, Math.min(w / this.image.width, h / this.image.height, 16));
    },
    canvasStyle() {
      if (!this.image) return {};
      const s = this.scale();
      return { width: `${Math.round(this.image.width * s)}px`, height: `${Math.round(this.image.height * s)}px` };
    },
    viewBox() {
      return this.image ? `0 0 ${this.image.width} ${this.image.height}` : "0 0 1 1";
    },
    positionText() {
      return `${this.index + 1} of ${this.count()} on this page`;
    },
    // The Label row shows for classified images and for images without any target.
    showsLabel() {
      return Boolean(Object.keys(this.image.classes).length || !this.image.target_names.length);
    },
    sizeText() {
      return this.image ? `${this.image.width} × ${this.image.height} px` : "";
    },
    importedText() {
      return this.image ? new Date(this.image.imported_at).toLocaleString() : "";
    },
    labelColor() {
      if (!this.image || this.image.annotations.label == null) return "var(--muted)";
      const item = (chartData().colors || [])[chartData().ids?.indexOf(this.image.annotations.label)];
      return item || "var(--primary)";
    },
    shapes() {
      if (!this.image) return [];
      const colors = classColors();
      const out = [];
      for (const b of this.image.annotations.boxes) {
        const [x1, y1, x2, y2] = b.xyxy;
        out.push({ kind: "box", x: x1, y: y1, w: x2 - x1, h: y2 - y1, color: colors[b.class_id] || "#ff0" });
      }
      for (const inst of this.image.annotations.instances) {
        for (const poly of inst.polygons) {
          const pts = [];
          for (let i = 0; i + 1 < poly.length; i += 2) pts.push(`${poly[i]},${poly[i + 1]}`);
          out.push({ kind: "poly", points: pts.join(" "), color: colors[inst.class_id] || "#ff0" });
        }
      }
      return out;
    },
    // The overlay's shapes, built as SVG elements (x-effect re-runs it when the image changes):
    // a <template x-for> inside <svg> is an SVG element without .content, which Alpine cannot
    // clone, and markup strings (x-html / innerHTML) are what an XSS needs, so neither is used.
    drawShapes() {
      const svg = this.$refs.overlay;
      if (!svg) return;
      const num = (v) => (Number.isFinite(Number(v)) ? String(Number(v)) : "0");
      const color = (c) => (/^#[0-9a-fA-F]{3,8}$/.test(c) ? c : "#ffff00");
      const nodes = this.shapes().map((s) => {
        const attrs = s.kind === "box"
          ? { x: num(s.x), y: num(s.y), width: num(s.w), height: num(s.h), stroke: color(s.color), fill: "none" }
          : { points: s.points.split(/[ ,]/).map(num).join(" "), stroke: color(s.color), fill: color(s.color), "fill-opacity": "0.25" };
        const node = document.createElementNS("http://www.w3.org/2000/svg", s.kind === "box" ? "rect" : "polygon");
        for (const [name, value] of Object.entries({ ...attrs, "vector-effect": "non-scaling-stroke" })) node.setAttribute(name, value);
        return node;
      });
      svg.replaceChildren(...nodes);
    },
    targetsText() {
      const t = this.image.annotations.target || [];
      const names = this.image.target_names || [];
      return t.map((v, i) => `${names[i] || `target ${i + 1}`} = ${v}`).join(", ");
    },
    humanBytes(n) {
      if (n < 1024) return `${n} bytes`;
      if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
      return `${(n / 1024 / 1024).toFixed(1)} MiB`;
    },

    // ---- charts ---------------------------------------------------------
    drawChart() {
      this.drawTargetCharts();
      const canvas = document.getElementById("class-chart");
      const data = chartData();
      if (!canvas || !window.Chart || !data.labels || !data.labels.length) return;
      const css = getComputedStyle(document.documentElement);
      const text = css.getPropertyValue("--muted").trim();
      const grid = css.getPropertyValue("--border").trim();
      if (this.chart) this.chart.destroy();
      this.chart = new Chart(canvas, {
        type: "bar",
        // the counts of the subset the grid shows, like the class list beside it
        data: { labels: data.labels, datasets: [{ label: "Images", data: data.ids.map((id) => this.countOf(String(id))), backgroundColor: data.colors }] },
        options: {
          indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
          plugins: { legend: { display: false } },
          scales: {
            x: { beginAtZero: true, ticks: { color: text, precision: 0 }, grid: { color: grid } },
            y: { ticks: { color: text }, grid: { display: false } },
          },
        },
      });
    },
    drawTargetCharts() {
      const data = targetChartData();
      if (!window.Chart || !data) return;
      const css = getComputedStyle(document.documentElement);
      const text = css.getPropertyValue("--muted").trim();
      const grid = css.getPropertyValue("--border").trim();
      const bar = css.getPropertyValue("--primary").trim();
      targetCharts.splice(0).forEach((chart) => chart.destroy());
      document.querySelectorAll("canvas.target-chart").forEach((canvas) => {
        const t = data[Number(canvas.dataset.index)];
        if (!t || !t.counts.length) return;
        targetCharts.push(new Chart(canvas, {
          type: "bar",
          data: { labels: t.labels, datasets: [{ label: "Images", data: t.counts, backgroundColor: bar, barPercentage: 1, categoryPercentage: 0.95 }] },
          options: {
            responsive: true, maintainAspectRatio: false, animation: false,
            plugins: { legend: { display: false }, tooltip: { callbacks: { title: (items) => `${t.name}: ${t.ranges[items[0].dataIndex]}` } } },
            scales: {
              x: { ticks: { color: text, maxRotation: 0, autoSkip: true, font: { size: 10 } }, grid: { display: false } },
              y: { beginAtZero: true, ticks: { color: text, precision: 0 }, grid: { color: grid } },
            },
          },
        }));
      });
    },
  }));

  // Histograms of the regression targets (one canvas per target), kept outside Alpine's
  // reactive proxies (they break Chart.js).
  const targetCharts = [];

  function targetChartData() {
    const el = document.getElementById("target-chart-data");
    return el ? JSON.parse(el.textContent) : null;
  }

  function chartData() {
    const el = document.getElementById("class-chart-data");
    return el ? JSON.parse(el.textContent) : {};
  }

  function classColors() {
    const data = chartData();
    const out = {};
    (data.ids || []).forEach((id, i) => { out[id] = data.colors[i]; });
    return out;
  }

  function errorText(data, response) {
    const err = data && data.error;
    if (!err) return `The server answered ${response.status} ${response.statusText}.`;
    const details = err.details && typeof err.details === "object"
      ? Object.values(err.details).flat().filter((d) => typeof d === "string")
      : [];
    return details.length && !details.includes(err.message) ? `${err.message} (${details.join(" ")})` : err.message;
  }
});
