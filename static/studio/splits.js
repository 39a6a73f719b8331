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

  const DEFAULT_PCT = { train: 80, val: 10, test: 10 };
  const MIN_PCT = { train: 1, val: 0, test: 0 };
  // Who takes up the difference when one ratio changes, in order: changing val or test
  // moves train (then the other one, if train would drop below 1 %); changing train moves
  // test (then val, once test is at 0). The changed value itself is kept exactly.
  const ABSORBERS = { train: ["test", "val"], val: ["train", "test"], test: ["train", "val"] };

  /** Set one ratio to `value` (integer %); the others change by the rule above so the
   *  three always sum to 100. Train stays in 1..100, val and test in 0..99. */
  function rebalance(pct, key, value) {
    const out = { ...pct };
    const min = MIN_PCT[key];
    const max = 100 - KEYS.filter((k) => k !== key).reduce((sum, k) => sum + MIN_PCT[k], 0);
    const v = Math.min(max, Math.max(min, Math.round(Number(value) || 0)));
    const [first, second] = ABSORBERS[key];
    out[key] = v;
    out[first] = 100 - v - out[second];
    if (out[first] < MIN_PCT[first]) {
      out[first] = MIN_PCT[first];
      out[second] = 100 - v - out[first];
    }
    return out;
  }

  /** Largest-remainder apportionment of n images by integer percentages (ties: train,
   *  val, test): the rule the server's split uses for the global subset sizes. */
  function apportion(n, pct) {
    const exact = KEYS.map((k) => (n * pct[k]) / 100);
    const counts = exact.map((x) => Math.floor(x + 1e-9));
    const order = [0, 1, 2].sort((a, b) => (exact[b] - counts[b]) - (exact[a] - counts[a]) || a - b);
    const left = n - counts.reduce((a, b) => a + b, 0);
    order.slice(0, left).forEach((i) => { counts[i] += 1; });
    const out = {};
    KEYS.forEach((k, i) => { out[k] = counts[i]; });
    return out;
  }
  window.studioSplitRebalance = rebalance; // exposed for tests
  window.studioSplitApportion = apportion;

  document.addEventListener("alpine:init", () => {
    window.Alpine.data("splitForm", () => {
      let chart = null;
      let timer = null;
      let sequence = 0;
      return {
        keys: KEYS,
        labels: LABELS,
        pct: { ...DEFAULT_PCT },
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
        // The preview's own count once it matches the sliders; until then the same
        // largest-remainder rounding the split uses (so the two never disagree).
        current() {
          const p = this.preview;
          return Boolean(p && KEYS.every((k) => Math.round(p.ratios[k] * 100) === this.pct[k]));
        },
        expected(key) {
          if (this.current()) return this.preview.sizes[key];
          return apportion(Number(this.cfg("images")), this.pct)[key];
        },
        countText(key) {
          const n = this.expected(key);
          return `${this.current() ? "" : "≈ "}${n} image${n === 1 ? "" : "s"}`;
        },
        warnings() {
          return this.preview && this.current() ? this.preview.warnings : [];
        },
        warningKey(w) {
          return `${w.code}:${w.group || ""}:${w.message}`;
        },
        isDefault() {
          return KEYS.every((k) => this.pct[k] === DEFAULT_PCT[k]);
        },
        reset() {
          this.pct = { ...DEFAULT_PCT };
          this.schedule();
        },
        share(n, total) {
          return total ? `(${Math.round((100 * n) / total)} %)` : "";
        },
        setRatio(key, value) {
          if (value === "" || value === null) return; // a number box being cleared to retype
          this.pct = rebalance(this.pct, key, value);
          this.schedule();
        },
        // On leaving a number box, show the value actually kept (e.g. 150 → 99, "" → back).
        settle(ev, key) {
          ev.target.value = this.pct[key];
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
