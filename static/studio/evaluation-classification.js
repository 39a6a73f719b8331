// The Evaluation page's classification part (templates/evaluation/task/classification.html): its
// entry in the page's task table and the methods its template uses. Loaded with the page
// (deferred, before Alpine starts); evaluation.js merges it into the page component.
(window.StudioEvaluationTasks = window.StudioEvaluationTasks || {}).classification = (shared) => {
  const { charts, chartColors, EMPTY_FILTERS, F } = shared;
  return {
    spec: {
      views: (agg) => ({ all: agg.overall, ...agg.subsets }),
      summary: (page, agg) => `${agg.overall.count} images, ${page.headlineText(["accuracy", agg.overall.accuracy])}`,
      draw: (page) => page.drawClassChart(),
      sort: "",
      open: false,
    },
    data: {
    },
    methods: {
      // ---- classification -----------------------------------------------
      cellShare(i, j) {
        const row = this.metrics().confusion_matrix[i];
        const total = row.reduce((a, b) => a + b, 0);
        return total ? row[j] / total : 0;
      },
      cellStyle(i, j) {
        const n = this.metrics().confusion_matrix[i][j];
        return n ? this.shade(i === j, this.cellShare(i, j)) : "";
      },
      shade(diagonal, share) {
        const pctShade = Math.round(15 + 85 * share);
        const color = diagonal ? "var(--ok)" : "var(--danger)";
        const text = pctShade > 55 ? "#fff" : "var(--text)";
        return `background-color: color-mix(in srgb, ${color} ${pctShade}%, var(--surface)); color: ${text}`;
      },
      cellTitle(i, j) {
        const names = this.aggregate().class_names;
        const n = this.metrics().confusion_matrix[i][j];
        return `true ${names[i]} → predicted ${names[j]}: ${n} image${n === 1 ? "" : "s"} (${F.value("recall", this.cellShare(i, j))} of ${names[i]})`;
      },
      isSelectedCell(i, j) {
        const ids = this.aggregate().class_ids;
        return this.filters.true_class === String(ids[i]) && this.filters.pred_class === String(ids[j]) &&
          this.filters.subset === (this.view === "all" ? "" : this.view) && !this.filters.correct;
      },
      cellClick(i, j) {
        if (!this.metrics().confusion_matrix[i][j]) return;
        const ids = this.aggregate().class_ids;
        this.showCell({ true_class: String(ids[i]), pred_class: String(ids[j]) });
      },
      showCell(filters) {
        this.filters = { ...this.filters, ...EMPTY_FILTERS, ...filters, subset: this.view === "all" ? "" : this.view };
        this.page = 1;
        this.open = true;
        this.loadResults();
        this.$nextTick(() => document.querySelector("[data-testid=results-card]").scrollIntoView({ behavior: "smooth", block: "start" }));
      },
      drawClassChart() {
        const canvas = this.canvas("class-chart");
        const m = this.metrics();
        if (!canvas || !m) return;
        const c = chartColors();
        const series = [["precision", c.primary], ["recall", c.warn], ["f1", c.ok]].map(([key, color]) => [F.short(key), key, color]);
        charts.classes = new window.Chart(canvas, {
          type: "bar",
          data: {
            labels: m.per_class.map((x) => x.name),
            datasets: series.map(([label, key, color]) => ({
              label, data: m.per_class.map((x) => x[key]), backgroundColor: color, borderWidth: 0,
            })),
          },
          options: {
            responsive: true, maintainAspectRatio: false, animation: false,
            plugins: {
              legend: { labels: { color: c.text } },
              tooltip: { callbacks: { label: (ctx) => `${F.label(series[ctx.datasetIndex][1])}: ${F.value(series[ctx.datasetIndex][1], ctx.parsed.y)}` } },
            },
            scales: {
              x: { ticks: { color: c.text, autoSkip: false, maxRotation: 60 }, grid: { color: c.grid } },
              y: { min: 0, max: 1, ticks: { color: c.text, callback: F.ticks("f1") }, grid: { color: c.grid } },
            },
          },
        });
      },

    },
  };
};
