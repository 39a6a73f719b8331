// The Evaluation page's regression part (templates/evaluation/task/regression.html): its
// entry in the page's task table and the methods its template uses. Loaded with the page
// (deferred, before Alpine starts); evaluation.js merges it into the page component.
(window.StudioEvaluationTasks = window.StudioEvaluationTasks || {}).regression = (shared) => {
  const { charts, chartColors, sig } = shared;
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
    },
  };
};
