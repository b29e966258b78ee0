/* The ops console's live screens: the SLO dashboard and the chaos panel (ops/admin.py).
   Charts are uPlot (vendored: tulip/static/vendor/uplot). Each SLO metric is one chart: its
   samples, its limit (dashed red) and the chaos experiments of the window as shaded bands with
   their timeline marks. Failures are shown in the page, never logged to the console. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const BAND = { running: "rgba(230,140,0,.18)", stopped_by_condition: "rgba(200,30,30,.16)",
    completed: "rgba(60,110,200,.14)", aborted: "rgba(120,120,120,.16)", failed: "rgba(200,30,30,.3)" };
  const state = { charts: new Map(), experiments: [], minutes: 30, names: null };

  function showError(id, text) { const el = $(id); if (el) { el.textContent = text || ""; el.hidden = !text; } }
  const esc = (v) => String(v == null ? "" : v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  // Experiments as bands over the plot area, with a tick for each timeline entry.
  const bands = {
    hooks: {
      draw: [(u) => {
        const ctx = u.ctx, { left, top, width, height } = u.bbox;
        ctx.save();
        ctx.beginPath(); ctx.rect(left, top, width, height); ctx.clip();
        for (const e of state.experiments) {
          const x0 = u.valToPos(e.start, "x", true), x1 = u.valToPos(e.end || Date.now() / 1000, "x", true);
          ctx.fillStyle = BAND[e.status] || BAND.completed;
          ctx.fillRect(x0, top, Math.max(2, x1 - x0), height);
          ctx.fillStyle = "#333"; ctx.font = `${10 * devicePixelRatio}px sans-serif`;
          ctx.fillText(`#${e.id} ${e.kind}`, x0 + 3 * devicePixelRatio, top + 12 * devicePixelRatio);
          ctx.strokeStyle = "rgba(0,0,0,.45)"; ctx.lineWidth = devicePixelRatio;
          for (const t of e.timeline || []) {
            const x = u.valToPos(Date.parse(t.ts) / 1000, "x", true);
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
          }
        }
        ctx.restore();
      }],
    },
  };

  function chartFor(container, metric) {
    let entry = state.charts.get(metric.name);
    if (entry) return entry;
    const box = document.createElement("div");
    box.className = "slo-chart"; box.dataset.metric = metric.name;
    const limit = metric.limit == null ? "no limit" : `limit ${metric.limit} ${metric.unit}`;
    box.innerHTML = `<h3>${esc(metric.name)} <small>${esc(metric.unit)} · ${esc(limit)} · <span class="live"></span></small></h3>`;
    container.appendChild(box);
    const width = Math.max(300, Math.min(560, (container.clientWidth || 1100) / 2 - 24));
    const u = new window.uPlot({
      width, height: 170, legend: { show: false }, cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: () => { const now = Date.now() / 1000; return [now - state.minutes * 60, now]; } },
        y: { range: (self, min, max) => [0, Math.max(1, max == null ? 1 : max, metric.limit || 0) * 1.15] },
      },
      series: [{}, { label: metric.name, stroke: "#2b5fad", width: 2, points: { show: true, size: 4, fill: "#2b5fad" } },
        { label: "limit", stroke: "#c0392b", width: 1, dash: [6, 4], points: { show: false } }],
      axes: [{ stroke: "#555" }, { stroke: "#555", size: 55 }],
      plugins: [bands],
    }, [[], [], []], box);
    entry = { u, box };
    state.charts.set(metric.name, entry);
    return entry;
  }

  function draw(data) {
    const container = $("slo-charts");
    if (!container) return;
    if (typeof window.uPlot !== "function") { showError("chart-error", "Charts unavailable: uPlot did not load."); return; }
    state.experiments = data.experiments || state.experiments;
    for (const metric of data.metrics) {
      if (state.names && !state.names.includes(metric.name)) continue;
      const { u, box } = chartFor(container, metric);
      const xs = metric.points.map((p) => p[0]), ys = metric.points.map((p) => p[1]);
      const limits = metric.limit == null ? xs.map(() => null) : xs.map(() => metric.limit);
      if (metric.limit != null && xs.length < 2) { // a limit line across the window even with no data
        const now = data.now;
        xs.splice(0, xs.length, now - state.minutes * 60, ...xs, now);
        ys.splice(0, ys.length, null, ...ys, null);
        limits.splice(0, limits.length, ...xs.map(() => metric.limit));
      }
      u.setData([xs, ys, limits]);
      box.dataset.points = String(metric.points.length);
      box.querySelector(".live").textContent = metric.live == null ? "no traffic yet" : `live ${Number(metric.live).toFixed(2)}`;
    }
  }

  async function getJson(url) {
    const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return res.json();
  }

  async function refreshCharts(dataUrl) {
    try { draw(await getJson(`${dataUrl}?minutes=${state.minutes}`)); showError("chart-error", ""); }
    catch (err) { showError("chart-error", "Could not load the SLO samples: " + err.message); }
  }

  function every(ms, fn) {
    let busy = false;
    const run = async () => { if (busy) return; busy = true; try { await fn(); } finally { busy = false; } };
    run(); return setInterval(run, ms);
  }

  // ------------------------------------------------------------------ the SLO dashboard
  function dashboard(opts) {
    state.minutes = opts.minutes || 30;
    every(opts.everyMs || 5000, () => refreshCharts(opts.dataUrl));
  }

  // ------------------------------------------------------------------ the chaos panel
  function showKindFields() {
    const kind = $("kind") && $("kind").value;
    document.querySelectorAll("#chaos-form [data-for]").forEach((row) => { row.hidden = row.dataset.for !== kind; });
  }
  function renderExperiment(status) {
    const list = status.experiments || [];
    const current = list.find((e) => e.status === "running") || list[0];
    const el = $("chaos-status");
    if (!current) { el.dataset.status = "idle"; el.textContent = "idle"; return; }
    el.dataset.status = current.status; el.dataset.experiment = String(current.id);
    el.textContent = `#${current.id} ${current.label}: ${current.status.replace(/_/g, " ")}`;
    const left = current.status === "running" ? Math.max(0, Math.round(current.endsAt - status.now)) : null;
    $("chaos-summary").textContent = left == null ? "" : ` (${left} s left)`;
    $("chaos-reason").textContent = current.reason || "";
    $("chaos-timeline").innerHTML = (current.timeline || []).map((t) =>
      `<li><time>${esc(String(t.ts).slice(11, 23))}</time> ${esc(t.what)}</li>`).join("");
    const running = current.status === "running";
    const fieldset = document.querySelector("#chaos-form fieldset");
    if (fieldset) fieldset.disabled = running;
    const stop = $("chaos-stop-form");
    if (stop) stop.hidden = !running;
  }
  function renderInvariants(status) {
    showError("inv-error", status.error);
    for (const name of ["doubleFills", "seqGaps", "lostAcks"]) {
      const cell = $("inv-" + name);
      if (!cell) continue;
      const value = status.invariants ? status.invariants[name] : null;
      cell.textContent = value == null ? "?" : String(value);
      cell.classList.toggle("bad", Number(value) > 0);
    }
  }
  function chaos(opts) {
    state.minutes = opts.minutes || 10; state.names = opts.names || null;
    if ($("kind")) { $("kind").addEventListener("change", showKindFields); showKindFields(); }
    every(1000, async () => {
      try {
        const status = await getJson(opts.statusUrl);
        renderExperiment(status); renderInvariants(status);
        state.experiments = (status.experiments || []).map((e) => ({ ...e, end: e.end }));
      } catch (err) { showError("inv-error", "Status unavailable: " + err.message); }
    });
    every(2000, () => refreshCharts(opts.dataUrl));
  }

  window.tulipConsole = { dashboard, chaos };
})();
