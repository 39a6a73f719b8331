// The Evaluation page's regression part (templates/evaluation/task/regression.html): its
// entry in the page's task table and the methods its template uses. Loaded with the page
// (deferred, before Alpine starts); evaluation.js merges it into the page component.
(window.StudioEvaluationTasks = window.StudioEvaluationTasks || {}).regression = (shared) => {
  const { charts, chartColors, F } = shared;
  return {
    spec: {
      views: (agg) => agg.regression,
      summary: (page, agg) => `${agg.regression.all.count} images, ${page.headlineText(agg.headline)}`,
      draw: (page) => { page.drawScatter(); page.drawHistogram(); },
      sort: "-error",
      open: true,
    },
    data: {
    },
    methods: {
      // ---- regression -------------------------------------------------------
      targetNames() {
        const agg = this.aggregate();
        return agg ? agg.target_names : [];
      },
      // a column's values with one precision: the decimals that give that target's typical
      // error (MAE) its 3 significant digits, as the MAE itself is written (StudioFormat.inUnits),
      // so 0 and 8 line up as 0.00 and 8.00 next to an MAE of 3.50; k = null: the error column
      fmtValue(v, k = null) {
        const all = this.views().all;
        const mae = !all ? 0 : k === null ? all.mae : (all.per_target[k] || {}).mae;
        return F.inUnits(v, mae);
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
              tooltip: { callbacks: { label: (ctx) => `actual ${this.fmtValue(ctx.parsed.x, 0)}, predicted ${this.fmtValue(ctx.parsed.y, 0)}` } },
            },
            scales: {
              x: { min: lo, max: hi, title: { display: true, text: `actual ${name}`, color: c.text }, ticks: { color: c.text, includeBounds: false, callback: F.ticks("mae") }, grid: { color: c.grid } },
              y: { min: lo, max: hi, title: { display: true, text: `predicted ${name}`, color: c.text }, ticks: { color: c.text, includeBounds: false, callback: F.ticks("mae") }, grid: { color: c.grid } },
            },
          },
        });
      },
      // the index of the histogram bin that holds an error of 0 (-1: every error is on one side)
      zeroBin(bins) {
        const last = bins.length - 1;
        return bins.findIndex((b, i) => b.lower <= 0 && (b.upper > 0 || (i === last && b.upper === 0)));
      },
      // the caption under the histogram: it describes the green bar only when one is drawn
      histogramCaption() {
        const m = this.current();
        return this.histogramCaptionFor(m ? m.error_histogram : []);
      },
      histogramCaptionFor(bins) {
        if (!bins.length) return "";
        const bias = "a lopsided histogram means the model is biased.";
        const i = this.zeroBin(bins);
        if (i < 0) {
          return bins[0].lower > 0
            ? "Every error is above 0: the model predicts too high for every image."
            : "Every error is below 0: the model predicts too low for every image.";
        }
        const b = bins[i];
        const range = `${this.fmtValue(b.lower, 0)} to ${this.fmtValue(b.upper, 0)}`;
        if (!b.count) return `No image has an error near 0 (${range}): that bin is empty; ${bias}`;
        return `The green bar holds the ${b.count} image${b.count === 1 ? "" : "s"} with an error near 0 (${range}); ${bias}`;
      },
      drawHistogram() {
        const canvas = this.canvas("error-histogram");
        const m = this.current();
        if (!canvas || !m) return;
        const c = chartColors();
        const bins = m.error_histogram;
        const zero = this.zeroBin(bins);
        // a linear x axis (bars placed at their bins' centres), so the ticks are round
        // numbers, not the bins' centres
        charts.histogram = new window.Chart(canvas, {
          type: "bar",
          data: {
            datasets: [{ label: "images", data: bins.map((b) => ({ x: (b.lower + b.upper) / 2, y: b.count })), borderWidth: 0,
              barPercentage: 1, categoryPercentage: 0.95, backgroundColor: bins.map((b, i) => (i === zero ? c.ok : c.warn)) }],
          },
          options: {
            responsive: true, maintainAspectRatio: false, animation: false,
            plugins: {
              legend: { display: false },
              tooltip: { callbacks: {
                title: (items) => { const b = bins[items[0].dataIndex]; return `error ${this.fmtValue(b.lower, 0)} to ${this.fmtValue(b.upper, 0)}`; },
                label: (ctx) => `${ctx.parsed.y} image${ctx.parsed.y === 1 ? "" : "s"}`,
              } },
            },
            scales: {
              x: { type: "linear", offset: false, min: bins.length ? bins[0].lower : 0, max: bins.length ? bins[bins.length - 1].upper : 1,
                title: { display: true, text: `error: predicted − actual ${this.firstTarget()}`, color: c.text },
                ticks: { color: c.text, maxRotation: 0, autoSkip: true, includeBounds: false, maxTicksLimit: 8, callback: F.ticks("mae") }, grid: { display: false } },
              y: { beginAtZero: true, title: { display: true, text: "images", color: c.text }, ticks: { color: c.text, precision: 0 }, grid: { color: c.grid } },
            },
          },
        });
      },
    },
  };
};
