// The Evaluation page's anomaly-detection part (templates/evaluation/task/anomaly_detection.html): its
// entry in the page's task table and the methods its template uses. Loaded with the page
// (deferred, before Alpine starts); evaluation.js merges it into the page component.
(window.StudioEvaluationTasks = window.StudioEvaluationTasks || {}).anomaly_detection = (shared) => {
  const { charts, chartColors, F } = shared;
  // The threshold memo: live() is asked many times per render for the same threshold.
  let liveKey = "";
  let liveValue = null;
  const THRESHOLD_SOURCES = {
    val: ["Chosen on the validation images (best F1): the test images' numbers at this threshold are an honest estimate.", false],
    all: ["Chosen on the evaluated images themselves (best F1): optimistic, the numbers at this threshold are tuned on the very images they are measured on. Evaluate the validation subset too for an honest threshold.", true],
    default: ["The default 0.5: the evaluated images do not hold both outcomes to choose a threshold from.", true],
  };
  return {
    spec: {
      views: (agg) => agg.anomaly,
      summary: (page, agg) => {
        const a = agg.anomaly.all;
        return `${a.count} images (${a.anomalous} anomalous), ${page.headlineText(agg.headline)}`;
      },
      draw: (page) => page.drawRoc(),
      sort: "-score",
      open: true,
      setup: (page) => page.setupThresholds(),
      init: (page) => page.$watch("thresholdIndex", () => page.updateOperatingPoint()),
    },
    data: {
      thresholds: [], // the distinct scores, ascending: the slider's stops
      thresholdIndex: 0,
    },
    methods: {
      // ---- anomaly detection: the threshold slider -------------------------
      // The slider's stops are the distinct scores of all evaluated images (every step moves at
      // least one image across; scores of a small model often crowd into a narrow band, where a
      // linear 0-1 slider could not separate them). An image is anomalous when score >= threshold.
      setupThresholds() {
        const agg = this.aggregate();
        const all = agg && agg.anomaly && agg.anomaly.all;
        if (!all) { this.thresholds = []; return; }
        const extra = Object.values(agg.anomaly).flatMap((m) => [m.threshold, m.youden_threshold, m.best_f1_threshold]);
        this.thresholds = [...new Set([...all.scores, ...extra].filter((v) => v !== null && v !== undefined))].sort((a, b) => a - b);
        this.setThreshold(all.threshold);
      },
      threshold() {
        return this.thresholds.length ? this.thresholds[this.thresholdIndex] : 0.5;
      },
      setThreshold(value) {
        if (value === null || value === undefined || !this.thresholds.length) return;
        let best = 0;
        this.thresholds.forEach((t, i) => { if (Math.abs(t - value) < Math.abs(this.thresholds[best] - value)) best = i; });
        this.thresholdIndex = best;
      },
      maxThresholdIndex() {
        return Math.max(0, this.thresholds.length - 1);
      },
      useThreshold(value) { // a threshold button: move the slider there
        this.setThreshold(value);
        this.thresholdChanged();
      },
      // The threshold buttons' texts: the evaluation's own, best F1 and Youden's J of this view,
      // and the stored one (the evaluation's threshold over all evaluated images).
      markText(kind) {
        const c = this.current();
        if (kind === "evaluation") return `Evaluation's threshold ${F.value("threshold", c.threshold)}`;
        if (kind === "best_f1") return `Best F1 here ${F.value("threshold", c.best_f1_threshold)}`;
        if (kind === "youden") return `Youden's J here ${F.value("threshold", c.youden_threshold)}`;
        return `Evaluation's threshold ${F.value("threshold", this.aggregate().anomaly.all.threshold)}:`;
      },
      markTitle(kind) {
        const on = this.viewLabel(this.view);
        return kind === "best_f1"
          ? `The threshold with the highest F1 on ${on}`
          : `Youden's J: the threshold with the largest TPR − FPR on ${on}`;
      },
      anomalyCellTitle(i, j) {
        const kind = ["true negatives", "false alarms", "missed anomalies", "anomalies caught"][2 * i + j];
        return `${kind}: ${this.live().matrix[i][j]}`;
      },
      anomalyResultTitle(r) {
        const verdict = this.anomalous(r) ? "flagged anomalous" : "passed as good";
        return `${r.file_name}: ${r.true_class}, score ${F.value("score", r.score)} → ${verdict}`;
      },
      thresholdText() { // the slider's threshold, as the vocabulary writes thresholds
        return F.value("threshold", this.threshold());
      },
      thresholdChanged() { // the slider was released: a verdict filter follows the threshold
        if (this.filters.verdict && this.open) this.filtersChanged();
      },
      isThreshold(value) {
        return value !== null && value !== undefined && Math.abs(this.threshold() - value) < 1e-9;
      },
      thresholdSource() {
        const agg = this.aggregate();
        return (agg && THRESHOLD_SOURCES[agg.threshold_source]) || ["", false];
      },
      anomalous(r) {
        return r.score !== null && r.score !== undefined && r.score >= this.threshold();
      },
      verdictCorrect(r) {
        return this.anomalous(r) === (r.true_class_id === 1);
      },
      // counts and scores of the current view at the slider's threshold (memoised per render)
      live() {
        const m = this.current();
        if (!m || !m.scores) return null;
        const t = this.threshold();
        const key = `${this.evaluation.finished_at || ""}|${this.view}|${t}|${m.scores.length}`;
        if (key === liveKey) return liveValue;
        let tp = 0; let fp = 0; let tn = 0; let fn = 0;
        m.scores.forEach((s, i) => {
          const flagged = s >= t;
          if (m.labels[i] === 1) { if (flagged) tp += 1; else fn += 1; } else if (flagged) fp += 1; else tn += 1;
        });
        const precision = tp + fp ? tp / (tp + fp) : 0;
        const recall = tp + fn ? tp / (tp + fn) : 0;
        const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
        liveKey = key;
        liveValue = { tp, fp, tn, fn, precision, recall, f1, accuracy: (tp + tn) / Math.max(1, m.scores.length),
          tpr: recall, fpr: fp + tn ? fp / (fp + tn) : 0, matrix: [[tn, fp], [fn, tp]] };
        return liveValue;
      },
      anomalyCellStyle(i, j) {
        const row = this.live().matrix[i];
        const total = row[0] + row[1];
        return row[j] ? this.shade(i === j, total ? row[j] / total : 0) : "";
      },
      anomalyCellClick(i, j) {
        if (!this.live().matrix[i][j]) return;
        this.showCell({ true_class: String(i), verdict: j ? "anomalous" : "good" });
      },
      isSelectedAnomalyCell(i, j) {
        return this.filters.true_class === String(i) && this.filters.verdict === (j ? "anomalous" : "good") &&
          this.filters.subset === (this.view === "all" ? "" : this.view);
      },
      drawRoc() {
        const canvas = this.canvas("roc-chart");
        const m = this.current();
        if (!canvas || !m) return;
        const c = chartColors();
        const point = this.live();
        charts.roc = new window.Chart(canvas, {
          type: "scatter",
          data: {
            datasets: [
              { label: `ROC (${F.label("auroc")} ${F.value("auroc", m.auroc)})`, data: m.roc.map((p) => ({ x: p.fpr, y: p.tpr, t: p.threshold })),
                showLine: true, borderColor: c.primary, backgroundColor: c.primary, pointRadius: 0, borderWidth: 2, order: 2 },
              { label: "Chance", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, borderColor: c.muted,
                borderDash: [5, 5], borderWidth: 1, pointRadius: 0, order: 3 },
              { label: "the slider's threshold", data: point ? [{ x: point.fpr, y: point.tpr }] : [], pointRadius: 7, pointHoverRadius: 8,
                backgroundColor: c.danger, borderColor: c.text, borderWidth: 1.5, order: 1 },
            ],
          },
          options: {
            responsive: true, maintainAspectRatio: false, animation: false,
            plugins: {
              legend: { labels: { color: c.text, filter: (item) => item.datasetIndex !== 1, sort: (a, b) => a.datasetIndex - b.datasetIndex } },
              tooltip: { callbacks: { label: (ctx) => {
                const d = ctx.raw;
                const at = d.t !== undefined ? ` at threshold ${F.value("threshold", d.t)}` : ctx.datasetIndex === 2 ? ` at threshold ${F.value("threshold", this.threshold())}` : "";
                return `${F.short("fpr")} ${F.value("fpr", d.x)}, ${F.short("tpr")} ${F.value("tpr", d.y)}${at}`;
              } } },
            },
            scales: {
              x: { min: 0, max: 1, title: { display: true, text: "false positive rate (good images flagged)", color: c.text },
                ticks: { color: c.text, callback: F.ticks("fpr") }, grid: { color: c.grid } },
              y: { min: 0, max: 1, title: { display: true, text: "true positive rate (anomalies caught)", color: c.text },
                ticks: { color: c.text, callback: F.ticks("fpr") }, grid: { color: c.grid } },
            },
          },
        });
      },
      updateOperatingPoint() {
        const chart = charts.roc;
        const point = this.live();
        if (!chart || !point) return;
        chart.data.datasets[2].data = [{ x: point.fpr, y: point.tpr }];
        chart.update("none");
      },

    },
  };
};
