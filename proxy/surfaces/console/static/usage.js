// The usage view: asks /ui/usage/data for the ledger's series and draws three stacked
// bar charts (requests, spend, tokens) with Chart.js, plus the same totals as a table.
"use strict";

(function () {
  const charts = {};
  const PALETTE = ["#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#4b5563", "#ea580c"];

  function label(seconds, width) {
    const date = new Date(seconds * 1000);
    const iso = date.toISOString();
    return width >= 86400 ? iso.slice(0, 10) : iso.slice(5, 16).replace("T", " ");
  }

  function draw(id, labels, datasets, money) {
    if (charts[id]) {
      charts[id].data.labels = labels;
      charts[id].data.datasets = datasets;
      charts[id].update();
      return;
    }
    charts[id] = new Chart(document.getElementById(id), {
      type: "bar",
      data: { labels, datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true } },
          y: { stacked: true, beginAtZero: true, ticks: money ? { callback: (value) => "$" + Number(value.toPrecision(3)) } : { precision: 0 } },
        },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }

  async function refresh() {
    const form = document.getElementById("usage-controls");
    const query = new URLSearchParams(new FormData(form));
    const response = await fetch("/ui/usage/data?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.redirected || response.status === 401) { window.location.assign("/ui/login?next=/ui/usage"); return; }
    const series = await response.json();
    const width = series.bucket_seconds;
    const start = Math.floor(series.since / width) * width;
    const buckets = [];
    for (let at = start; at < series.until; at += width) buckets.push(at);
    const position = new Map(buckets.map((at, index) => [at, index]));
    const groups = Array.from(new Set(series.points.map((point) => point.group))).sort();
    const totals = new Map(groups.map((group) => [group, { requests: 0, input: 0, output: 0, cost: 0 }]));
    const make = () => groups.map(() => new Array(buckets.length).fill(0));
    const requests = make(), spend = make(), tokens = make();
    for (const point of series.points) {
      const row = groups.indexOf(point.group);
      const column = position.get(point.bucket);
      if (column === undefined) continue;
      requests[row][column] += point.requests;
      spend[row][column] += point.cost;
      tokens[row][column] += point.input_tokens + point.output_tokens;
      const total = totals.get(point.group);
      total.requests += point.requests;
      total.input += point.input_tokens;
      total.output += point.output_tokens;
      total.cost += point.cost;
    }
    const labels = buckets.map((at) => label(at, width));
    const datasets = (values) => groups.map((group, index) => ({
      label: group, data: values[index], backgroundColor: PALETTE[index % PALETTE.length], stack: "all",
    }));
    draw("requests-chart", labels, datasets(requests), false);
    draw("spend-chart", labels, datasets(spend), true);
    draw("tokens-chart", labels, datasets(tokens), false);

    document.getElementById("group-name").textContent = series.group_by;
    const body = document.querySelector("#usage-table tbody");
    body.replaceChildren();
    let all = 0, cost = 0;
    for (const [group, total] of totals) {
      const row = document.createElement("tr");
      for (const value of [group, total.requests, total.input, total.output, "$" + total.cost.toFixed(6)]) {
        const cell = document.createElement("td");
        cell.textContent = String(value);
        row.append(cell);
      }
      body.append(row);
      all += total.requests;
      cost += total.cost;
    }
    if (!groups.length) {
      const row = document.createElement("tr");
      const cell = document.createElement("td");
      cell.colSpan = 5;
      cell.textContent = "No request in this window.";
      row.append(cell);
      body.append(row);
    }
    document.getElementById("usage-totals").textContent =
      all + " requests, $" + cost.toFixed(6) + " in the " + form.elements.window.selectedOptions[0].textContent +
      " (buckets of " + (width >= 3600 ? width / 3600 + " h" : width / 60 + " min") + ")";
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("usage-controls");
    form.addEventListener("change", refresh);
    form.addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
    document.getElementById("usage-refresh").addEventListener("click", refresh);
    refresh();
  });
})();
