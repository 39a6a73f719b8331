// The Splits page: ratio sliders that always sum to 100 %, a debounced live preview
// (POST /api/splits/<pid>/preview), creation, and the Chart.js stacked bars per class.
(() => {
  const KEYS = ["train", "val", "test"];
  const LABELS = { train: "Train", val: "Validation", test: "Test" };

  function cssVar(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  // Chart.js objects live outside Alpine's reactive proxies (they break Chart.js).
  function drawChart(canvas, previous, counts) {
    if (previous) previous.destroy();
    if (!canvas || !canvas.isConnected || !window.Chart) return null;
    const text = cssVar("--text", "#1d2330");
    const grid = cssVar("--border", "#dde1e8");
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: counts.map((row) => row.name),
        datasets: KEYS.map((key) => ({
          label: LABELS[key],
          data: counts.map((row) => row[key]),
          backgroundColor: cssVar(`--split-${key}`, "#888"),
          borderWidth: 0,
        })),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { labels: { color: text } }, tooltip: { mode: "index", intersect: false } },
        scales: {
          x: { stacked: true, ticks: { color: text, autoSkip: true, maxRotation: 60 }, grid: { color: grid } },
          y: { stacked: true, beginAtZero: true, ticks: { color: text, precision: 0 }, grid: { color: grid } },
        },
      },
    });
  }

  // Redraw charts when the theme toggles (colours come from CSS variables).
  const redrawers = new Set();
  new MutationObserver(() => redrawers.forEach((fn) => fn())).observe(document.documentElement, {
    attributes: true,
    attributeFilter: ["data-theme"],
  });

  /** Move one ratio to `value` (integer %), share the difference between the other two
   *  in proportion to their current values; train never drops below 1 %. */
  function rebalance(pct, key, value) {
    const out = { ...pct };
    const min = key === "train" ? 1 : 0;
    const max = key === "train" ? 100 : 99;
    const v = Math.min(max, Math.max(min, Math.round(Number(value) || 0)));
    const [a, b] = KEYS.filter((k) => k !== key);
    const rest = 100 - v;
    const sum = out[a] + out[b];
    let va = sum > 0 ? Math.round((rest * out[a]) / sum) : Math.ceil(rest / 2);
    let vb = rest - va;
    if (a === "train" && va < 1) { va = 1; vb = rest - 1; }
    if (b === "train" && vb < 1) { vb = 1; va = rest - 1; }
    out[key] = v;
    out[a] = va;
    out[b] = vb;
    return out;
  }
  window.studioSplitRebalance = rebalance; // exposed for tests

  document.addEventListener("alpine:init", () => {
    window.Alpine.data("splitForm", () => {
      let chart = null;
      let timer = null;
      let sequence = 0;
      return {
        keys: KEYS,
        labels: LABELS,
        pct: { train: 80, val: 10, test: 10 },
        seed: 0,
        name: "",
        preview: null,
        loading: false,
        creating: false,
        error: "",

        init() {
          redrawers.add(() => this.draw());
          this.refresh();
        },
        cfg(name) {
          return this.$root.dataset[name];
        },
        expected(key) {
          return Math.round((Number(this.cfg("images")) * this.pct[key]) / 100);
        },
        share(n, total) {
          return total ? `(${Math.round((100 * n) / total)} %)` : "";
        },
        setRatio(key, value) {
          this.pct = rebalance(this.pct, key, value);
          this.schedule();
        },
        randomSeed() {
          const buf = new Uint32Array(1);
          window.crypto.getRandomValues(buf);
          this.seed = buf[0] % 2147483648;
          this.schedule();
        },
        body() {
          const ratios = {};
          KEYS.forEach((k) => { ratios[k] = this.pct[k] / 100; });
          const seed = Number.isInteger(this.seed) ? this.seed : 0;
          return { ratios, seed, name: this.name };
        },
        async post(url, body) {
          const response = await fetch(url, {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRFToken": this.cfg("csrf") },
            body: JSON.stringify(body),
          });
          let data = null;
          try { data = await response.json(); } catch (e) { data = null; }
          if (!response.ok) {
            const message = data && data.error ? data.error.message : `The server answered ${response.status}.`;
            throw new Error(message);
          }
          return data;
        },
        schedule() {
          clearTimeout(timer);
          timer = setTimeout(() => this.refresh(), 250);
        },
        async refresh() {
          const mine = ++sequence;
          this.loading = true;
          try {
            const data = await this.post(this.cfg("previewUrl"), this.body());
            if (mine !== sequence) return; // a newer preview is on its way
            this.preview = data;
            this.error = "";
            this.$nextTick(() => this.draw());
          } catch (e) {
            if (mine !== sequence) return;
            this.preview = null;
            this.error = e.message;
          } finally {
            if (mine === sequence) this.loading = false;
          }
        },
        draw() {
          chart = drawChart(this.$refs.chart, chart, this.preview ? this.preview.counts : []);
        },
        async create() {
          this.creating = true;
          this.error = "";
          try {
            const split = await this.post(this.cfg("createUrl"), this.body());
            window.location.href = `${this.cfg("pageUrl")}?split=${encodeURIComponent(split.id)}`;
          } catch (e) {
            this.error = e.message;
            this.creating = false;
          }
        },
      };
    });

    window.Alpine.data("splitChart", () => {
      let chart = null;
      return {
        init() {
          const source = this.$root.querySelector("script[type='application/json']");
          const counts = source ? JSON.parse(source.textContent) : [];
          const draw = () => { chart = drawChart(this.$refs.chart, chart, counts); };
          redrawers.add(draw);
          draw();
        },
      };
    });
  });
})();
