/* TulipBroker trading page: plain JS, no build step. Contract: docs/api.md (REST, WebSocket,
   /poll, /region). The price chart is uPlot, vendored (tulip/static/vendor/uplot, served at /ui/).
   Never calls console.error (docs/rules.md, service levels): failures are shown in the page.

   Connection states (the badge, #conn[data-state]):
     live         the socket is subscribed and the page resynced after it connected
     reconnecting the socket closed; reconnecting with backoff (full jitter, capped at 2 s)
     syncing      (re)loading state after a (re)connect, a seq gap, or while re-pinning a region
     polling      fallback: GET /poll long-polls (after 3 failed connects while /poll answers, or
                  a 4008 slow-consumer close); the socket is tried again every 10 s
     offline      signed out, or the session expired */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const DEPTH = 5, MAX_TRADES = 50, MAX_FILLS = 50, CHART_POINTS = 500;
  const BACKOFF_BASE_MS = 250, BACKOFF_CAP_MS = 2000, REST_TRIES = 4;
  const POLL_AFTER_FAILED_CONNECTS = 3, SOCKET_RETRY_WHILE_POLLING_MS = 10000, POLL_TIMEOUT_S = 10;
  const REGION_CHECK_MS = 5000, PROBE_TIMEOUT_MS = 3000;
  const OPEN = ["ACCEPTED", "OPEN", "PARTIALLY_FILLED"];
  const regionUrls = JSON.parse(($("region-urls") || {}).textContent || "{}"); // {region: base URL}

  const state = {
    token: sessionStorage.getItem("tulip.token") || "", username: sessionStorage.getItem("tulip.user") || "",
    symbol: "TULIP", base: "", region: document.body.dataset.region || "", role: "",
    ws: null, attempt: 0, live: false, conn: "offline", polling: false, pollSeq: 0, generation: 0,
    book: { seq: 0, bids: new Map(), asks: new Map() }, lastTradeSeq: null,
    trades: new Map(), // tradeId -> trade
    orders: new Map(), // orderId (or ghost key) -> order row data
    fills: new Map(), // tradeId:side -> fill
    chart: null, regionFailures: 0, repinning: false, lastPollOk: false, fillsTimer: 0,
  };

  // ------------------------------------------------------------------ helpers
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const jitter = (attempt) => Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  const esc = (v) => String(v == null ? "" : v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const newKey = () => "web-" + (crypto.randomUUID ? crypto.randomUUID() :
    Date.now().toString(36) + Math.random().toString(36).slice(2)).replace(/[^A-Za-z0-9._:-]/g, "");
  const safely = (fn) => (...args) => Promise.resolve().then(() => fn(...args)).catch((err) => showError(err));
  function showError(err) { $("ticket-error").textContent = (err && err.message) || String(err); }
  function banner(text, live) {
    const el = $("banner");
    el.textContent = text; el.hidden = !text; el.classList.toggle("live", !!live);
  }
  const CONN_LABELS = { live: "live", reconnecting: "reconnecting", syncing: "syncing…", polling: "polling fallback", offline: "offline" };
  function setConn(conn) {
    state.conn = conn;
    const el = $("conn");
    el.dataset.state = conn; el.textContent = CONN_LABELS[conn] || conn;
  }
  function showRegion() {
    $("region").textContent = state.region + (state.role ? " · " + state.role : "");
  }

  async function api(method, path, body, opts = {}) {
    // Retries transient failures with the SAME body (and so the same idempotency key).
    let last = null;
    for (let attempt = 0; attempt < (opts.tries || REST_TRIES); attempt++) {
      if (attempt) await sleep(jitter(attempt));
      try {
        const headers = body === undefined ? {} : { "Content-Type": "application/json" };
        if (state.token && !opts.anonymous) headers.Authorization = "Bearer " + state.token;
        const res = await fetch(state.base + path, {
          method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        });
        const data = await res.json().catch(() => ({}));
        if (res.status >= 500 || res.status === 429) { last = data; continue; }
        if (!res.ok) throw Object.assign(new Error((data.error && data.error.message) || String(res.status)), { status: res.status, data });
        return data;
      } catch (err) {
        if (err.status) throw err;
        last = err; // network failure: retry
      }
    }
    const detail = last && last.error ? last.error.message : "retried " + (opts.tries || REST_TRIES) + " times";
    throw Object.assign(new Error("The server is unavailable (" + detail + ")."), { data: last });
  }

  // ------------------------------------------------------------------ regions (GET /region)
  async function probe(base) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), PROBE_TIMEOUT_MS);
    try {
      const res = await fetch(base + "/region", { signal: ctl.signal });
      const body = await res.json().catch(() => null);
      return body && res.status === 200 && body.healthy ? body : null;
    } catch (err) { return null; } finally { clearTimeout(timer); }
  }
  async function checkRegion() {
    const status = await probe(state.base);
    if (status) {
      state.regionFailures = 0; state.region = status.region; state.role = status.role; showRegion();
      return true;
    }
    state.regionFailures += 1;
    if (state.regionFailures >= 2) await repin();
    return false;
  }
  // Pin to the healthy leader, else the first healthy region; keep the current one if none is
  // (the same choice as the SDK's RegionPicker). Other regions are other origins: their API
  // allows this page's origin (docs/api.md, "Regions").
  async function repin() {
    if (state.repinning) return;
    state.repinning = true;
    const previous = state.conn;
    const verb = previous === "live" ? "Syncing…" : "Reconnecting…";
    setConn("syncing"); banner(verb + " checking which region is healthy", false);
    try {
      const here = location.origin;
      const bases = [state.base, ...Object.values(regionUrls).map((u) => (u === here ? "" : u))];
      const unique = [...new Set(bases)];
      const statuses = await Promise.all(unique.map((b) => probe(b)));
      const healthy = unique.map((b, i) => [b, statuses[i]]).filter(([, s]) => s);
      const pick = healthy.find(([, s]) => s.role === "leader") || healthy[0];
      if (!pick) { setConn(previous === "live" ? "reconnecting" : previous); banner("Reconnecting… no region answers yet", false); return; }
      const [base, status] = pick;
      state.region = status.region; state.role = status.role; state.regionFailures = 0; showRegion();
      if (base !== state.base) {
        state.base = base;
        banner("Re-pinned to " + status.region + "; syncing…", false);
        if (state.token) restartStream();
      } else if (state.conn === "syncing") {
        setConn(previous);
        if (previous === "live") banner("", true);
      }
    } finally { state.repinning = false; }
  }

  // ------------------------------------------------------------------ sign in
  async function signIn(token, username) {
    state.token = token; state.username = username || state.username;
    sessionStorage.setItem("tulip.token", token); sessionStorage.setItem("tulip.user", state.username);
    $("signin").hidden = true; $("app").hidden = false; $("signout").hidden = false;
    $("who").textContent = state.username;
    initChart();
    connect();
    await Promise.all([loadOrders(), loadTrades(), loadFills()]);
  }
  $("login-form").addEventListener("submit", safely(async (e) => {
    e.preventDefault(); $("signin-error").textContent = "";
    try {
      const r = await api("POST", "/auth/login", { username: $("username").value, password: $("password").value }, { anonymous: true, tries: 2 });
      await signIn(r.accessToken, r.username);
    } catch (err) { $("signin-error").textContent = err.message; }
  }));
  $("token-form").addEventListener("submit", safely(async (e) => {
    e.preventDefault(); const t = $("token").value.trim(); if (t) await signIn(t, "token");
  }));
  $("signout").addEventListener("click", () => {
    sessionStorage.removeItem("tulip.token"); sessionStorage.removeItem("tulip.user"); location.reload();
  });
  function sessionExpired() {
    state.token = ""; sessionStorage.removeItem("tulip.token");
    setConn("offline"); banner("Your session expired — sign in again.", false);
    $("app").hidden = true; $("signout").hidden = true; $("signin").hidden = false;
  }

  // ------------------------------------------------------------------ stream (socket, then /poll)
  function wsUrl() {
    const base = state.base || location.origin;
    return base.replace(/^http/, "ws") + "/ws?token=" + encodeURIComponent(state.token);
  }
  function restartStream() {
    state.generation += 1; state.polling = false; state.attempt = 0; state.live = false;
    if (state.ws) { const old = state.ws; state.ws = null; try { old.close(); } catch (err) { /* already closed */ } }
    connect();
  }
  function connect() {
    const generation = state.generation;
    state.live = false;
    if (state.conn !== "polling") setConn(state.attempt ? "reconnecting" : "syncing");
    if (state.attempt) banner("Reconnecting… syncing", false);
    let ws;
    try { ws = new WebSocket(wsUrl()); } catch (err) { scheduleReconnect(generation, 1006); return; }
    state.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ op: "subscribe", topics: [`trades:${state.symbol}`, `book:${state.symbol}`, "orderStatus"] }));
    };
    ws.onmessage = (ev) => {
      if (state.ws !== ws) return;
      let m; try { m = JSON.parse(ev.data); } catch (err) { return; }
      onMessage(m);
    };
    ws.onerror = () => {}; // the close handler decides; nothing to log
    ws.onclose = (ev) => {
      if (state.ws !== ws || generation !== state.generation) return;
      state.ws = null;
      scheduleReconnect(generation, ev.code);
    };
  }
  const scheduleReconnect = safely(async (generation, code) => {
    state.live = false;
    if (code === 4401) { sessionExpired(); return; }
    if (code === 4008) { await startPolling(generation, "The stream fell behind (4008): polling for a while"); return; }
    state.attempt += 1;
    if (state.conn !== "polling") { setConn("reconnecting"); banner("Reconnecting… syncing", false); }
    if (state.attempt === 2) await checkRegion();
    if (state.attempt >= POLL_AFTER_FAILED_CONNECTS && !state.polling && generation === state.generation) {
      // /poll answering while the socket does not: a proxy in the way, not a dead server.
      state.lastPollOk = false;
      try { await api("GET", `/poll?topics=trades:${state.symbol}&fromSeq=0&timeoutS=0`, undefined, { tries: 1 }); state.lastPollOk = true; }
      catch (err) { /* the server itself is down: keep reconnecting */ }
      if (!state.polling && generation === state.generation && state.lastPollOk) {
        await startPolling(generation, "The stream is unavailable: polling");
        return;
      }
    }
    await sleep(jitter(state.attempt));
    if (generation === state.generation && !state.polling) connect();
  });

  async function startPolling(generation, why) {
    if (state.polling) return;
    state.polling = true; setConn("polling"); banner(why + " (/poll)", false);
    try {
      await resyncBook();
      await Promise.all([loadOrders(), loadTrades()]);
    } catch (err) { showError(err); }
    state.pollSeq = state.book.seq;
    const retryAt = Date.now() + SOCKET_RETRY_WHILE_POLLING_MS;
    while (state.polling && generation === state.generation && state.token) {
      try {
        const topics = [`trades:${state.symbol}`, `book:${state.symbol}`, "orderStatus"].join(",");
        const page = await api("GET", `/poll?topics=${encodeURIComponent(topics)}&fromSeq=${state.pollSeq}&timeoutS=${POLL_TIMEOUT_S}`, undefined, { tries: 1 });
        for (const m of page.items) onMessage(m);
        state.pollSeq = Math.max(state.pollSeq, page.lastSeq);
      } catch (err) {
        if (err.status === 401) { sessionExpired(); return; }
        await sleep(1000);
      }
      if (Date.now() >= retryAt) break;
    }
    if (generation !== state.generation || !state.token) return;
    state.polling = false; state.attempt = 0;
    connect(); // try the socket again; a failure comes back here
  }

  function resubscribeBook() {
    if (state.polling) { resyncBook().catch(showError); return; }
    if (!state.ws || state.ws.readyState !== 1) return;
    setConn("syncing");
    const topic = `book:${state.symbol}`;
    state.ws.send(JSON.stringify({ op: "unsubscribe", topics: [topic] }));
    state.ws.send(JSON.stringify({ op: "subscribe", topics: [topic] }));
  }
  async function resyncBook() {
    const book = await api("GET", `/book?symbol=${state.symbol}&depth=${DEPTH}`);
    state.book = { seq: book.seq, bids: new Map(book.bids.map((l) => [l.price, l])), asks: new Map(book.asks.map((l) => [l.price, l])) };
    renderBook();
  }

  const onLive = safely(async () => {
    // Re-read what a socket does not replay after a (re)connect (docs/api.md): open orders,
    // trades and fills; then the page is live.
    setConn("syncing");
    await Promise.all([loadOrders(), loadTrades(), loadFills()]);
    state.attempt = 0; state.live = true; setConn("live"); banner("Live", true);
    setTimeout(() => { if (state.live) banner("", true); }, 1500);
  });

  function onMessage(m) {
    switch (m.type) {
      case "subscribed":
        if (m.topic === `book:${state.symbol}` && !state.live) onLive();
        else if (m.topic === `book:${state.symbol}` && state.conn === "syncing") setConn("live");
        if (m.topic.startsWith("trades:") && state.lastTradeSeq === null) state.lastTradeSeq = m.seq;
        break;
      case "snapshot":
        state.book = { seq: m.seq, bids: new Map(m.bids.map((l) => [l.price, l])), asks: new Map(m.asks.map((l) => [l.price, l])) };
        renderBook(); break;
      case "book":
        if (m.seq <= state.book.seq) break;
        if (m.prevSeq !== state.book.seq) { banner("Syncing book…", false); resubscribeBook(); break; }
        for (const side of ["bids", "asks"]) for (const l of m[side]) {
          if (Number(l.qty) === 0) state.book[side].delete(l.price); else state.book[side].set(l.price, l);
        }
        state.book.seq = m.seq; renderBook(); break;
      case "trade":
        state.lastTradeSeq = m.seq; addTrades([m]); break;
      case "orderStatus":
        upsertOrder(m.order);
        if (m.order.lastFill) addLiveFill(m.order);
        break;
      case "error":
        $("ticket-error").textContent = m.message || m.code; break;
      default: break; // heartbeat, pong, unsubscribed
    }
  }

  // ------------------------------------------------------------------ book ladder
  function renderBook() {
    const asks = [...state.book.asks.values()].sort((a, b) => Number(a.price) - Number(b.price)).slice(0, DEPTH);
    const bids = [...state.book.bids.values()].sort((a, b) => Number(b.price) - Number(a.price)).slice(0, DEPTH);
    // Cumulative size from the touch outwards: each row's bar is its share of the deepest total.
    let cum = 0;
    const askRows = asks.map((l) => ({ l, cum: (cum += Number(l.qty)) }));
    cum = 0;
    const bidRows = bids.map((l) => ({ l, cum: (cum += Number(l.qty)) }));
    const max = Math.max(1, ...askRows.map((r) => r.cum), ...bidRows.map((r) => r.cum));
    const bar = (side, r) => `<span class="bar ${side}" style="width:${(100 * r.cum / max).toFixed(1)}%"></span>`;
    const rows = askRows.slice().reverse().map((r) =>
      `<tr class="ask" data-price="${esc(r.l.price)}" data-cum="${r.cum}"><td></td><td class="px">${esc(r.l.price)}</td>` +
      `<td class="depth">${bar("ask", r)}<span class="q">${esc(r.l.qty)}</span><span class="c">${r.cum}</span></td></tr>`)
      .concat(bidRows.map((r) =>
        `<tr class="bid" data-price="${esc(r.l.price)}" data-cum="${r.cum}"><td class="depth">${bar("bid", r)}<span class="q">${esc(r.l.qty)}</span>` +
        `<span class="c">${r.cum}</span></td><td class="px">${esc(r.l.price)}</td><td></td></tr>`));
    document.querySelector("#ladder tbody").innerHTML = rows.join("") ||
      '<tr class="empty"><td colspan="3">No resting orders</td></tr>';
    $("book-seq").textContent = "seq " + state.book.seq;
    $("spread").textContent = asks.length && bids.length ?
      `spread ${(Number(asks[0].price) - Number(bids[0].price)).toFixed(2)} · bar = cumulative size` : "";
  }

  // ------------------------------------------------------------------ trades: tape and chart
  function addTrades(list) {
    for (const t of list) if (t && t.tradeId) state.trades.set(t.tradeId, t);
    if (state.trades.size > CHART_POINTS) {
      const keep = [...state.trades.values()].sort((a, b) => b.seq - a.seq).slice(0, CHART_POINTS);
      state.trades = new Map(keep.map((t) => [t.tradeId, t]));
    }
    renderTrades();
  }
  function renderTrades() {
    const newest = [...state.trades.values()].sort((a, b) => b.seq - a.seq);
    document.querySelector("#tape tbody").innerHTML = newest.slice(0, MAX_TRADES).map((t) =>
      `<tr data-trade-id="${esc(t.tradeId)}" class="${t.takerSide === "BUY" ? "bid" : "ask"}"><td>${esc(String(t.ts || "").slice(11, 19))}</td>` +
      `<td>${esc(t.takerSide)}</td><td>${esc(t.price)}</td><td>${esc(t.qty)}</td></tr>`).join("");
    $("last-price").textContent = newest.length ? "last " + newest[0].price : "";
    renderChart(newest.slice().reverse());
  }
  function initChart() {
    const el = $("price-chart");
    if (state.chart || typeof window.uPlot !== "function") {
      if (typeof window.uPlot !== "function") el.textContent = "Chart unavailable (uPlot did not load).";
      return;
    }
    const width = Math.max(280, el.clientWidth || 480);
    state.chart = new window.uPlot({
      width, height: 220, legend: { show: false }, cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [{ stroke: "#555" }, { stroke: "#555", size: 60, values: (u, vals) => vals.map((v) => v.toFixed(2)) }],
      series: [{}, { label: "price", stroke: "#7a1f5c", width: 2, points: { show: true, size: 5, fill: "#7a1f5c" } }],
    }, [[], []], el);
    window.addEventListener("resize", () => {
      if (state.chart) state.chart.setSize({ width: Math.max(280, el.clientWidth || 480), height: 220 });
    });
  }
  function renderChart(ascending) {
    if (!state.chart) return;
    // One point per trade, by seq; trades in the same millisecond spread a millisecond apart so
    // the x values stay strictly increasing.
    const xs = [], ys = [];
    let lastX = -Infinity;
    for (const t of ascending) {
      let x = Date.parse(t.ts) / 1000;
      if (!Number.isFinite(x)) continue;
      if (x <= lastX) x = lastX + 0.001;
      lastX = x; xs.push(x); ys.push(Number(t.price));
    }
    state.chart.setData([xs, ys]);
    $("price-chart").dataset.points = String(xs.length);
  }
  async function loadTrades() {
    try {
      const page = await api("GET", `/trades?symbol=${state.symbol}&limit=${MAX_TRADES}`);
      addTrades(page.items);
    } catch (err) { showError(err); }
  }

  // ------------------------------------------------------------------ my orders and fills
  const RANK = { PENDING: 0, ACCEPTED: 1, OPEN: 2, PARTIALLY_FILLED: 3, FILLED: 4, CANCELLED: 4 };
  function upsertOrder(o) {
    const prev = state.orders.get(o.orderId) || {};
    // Messages can arrive out of order across REST and the socket: never move a row backwards.
    if (prev.seq != null && o.seq != null && o.seq < prev.seq) return;
    if (RANK[prev.status] > RANK[o.status] && !(o.seq > (prev.seq || 0))) return;
    state.orders.set(o.orderId, Object.assign({}, prev, o, { ghost: false }));
    renderOrders();
  }
  function renderOrders() {
    const rows = [...state.orders.values()].sort((a, b) => (b.createdAt || "~").localeCompare(a.createdAt || "~"));
    const tbody = document.querySelector("#orders tbody");
    tbody.innerHTML = "";
    for (const o of rows.slice(0, 100)) {
      const tr = document.createElement("tr");
      tr.dataset.orderId = o.orderId || ""; tr.dataset.key = o.key || "";
      tr.dataset.status = o.ghost ? "PENDING" : o.status;
      tr.className = (o.ghost ? "ghost " : "") + (o.side === "BUY" ? "bid" : "ask");
      const open = OPEN.includes(o.status) && !o.ghost;
      const tif = (o.timeInForce || "GTC") + (o.postOnly ? " post" : "");
      tr.innerHTML = `<td>${esc((o.orderId || "…").slice(0, 8))}</td><td>${esc(o.side)}</td><td>${esc(o.qty)}</td><td>${esc(o.price)}</td>` +
        `<td>${esc(tif)}</td><td>${esc(o.filledQty || 0)}</td><td class="status">${o.ghost ? "syncing…" : esc(o.status) + (o.cancelReason ? " <small>" + esc(o.cancelReason) + "</small>" : "")}</td>` +
        `<td>${open ? '<button class="cancel">Cancel</button>' : ""}</td>`;
      if (open) tr.querySelector(".cancel").addEventListener("click", safely(() => cancel(o.orderId)));
      tbody.appendChild(tr);
    }
  }
  async function loadOrders() {
    try {
      const page = await api("GET", `/orders?status=all&symbol=${state.symbol}&limit=50`);
      for (const o of page.items) upsertOrder(o);
    } catch (err) { showError(err); }
  }
  function addFills(list) {
    for (const f of list) state.fills.set(f.tradeId + ":" + f.side, Object.assign({}, state.fills.get(f.tradeId + ":" + f.side), f));
    renderFills();
  }
  function addLiveFill(order) {
    const f = order.lastFill;
    const known = state.orders.get(order.orderId) || {};
    addFills([{ tradeId: f.tradeId, orderId: order.orderId, side: order.side || known.side, price: f.price, qty: f.qty, ts: order.updatedAt, liquidity: "" }]);
    clearTimeout(state.fillsTimer);
    state.fillsTimer = setTimeout(() => { loadFills(); }, 500); // the maker/taker side comes from GET /fills
  }
  function renderFills() {
    const rows = [...state.fills.values()].sort((a, b) => String(b.tradeId).localeCompare(String(a.tradeId))).slice(0, MAX_FILLS);
    document.querySelector("#fills tbody").innerHTML = rows.map((f) =>
      `<tr data-trade-id="${esc(f.tradeId)}" class="${f.side === "BUY" ? "bid" : "ask"}"><td>${esc(String(f.ts || "").slice(11, 19))}</td><td>${esc(String(f.orderId || "").slice(0, 8))}</td>` +
      `<td>${esc(f.side)}</td><td>${esc(f.price)}</td><td>${esc(f.qty)}</td><td>${esc(f.liquidity || "…")}</td></tr>`).join("");
  }
  async function loadFills() {
    try {
      const page = await api("GET", `/fills?symbol=${state.symbol}&limit=${MAX_FILLS}`);
      addFills(page.items);
    } catch (err) { showError(err); }
  }

  // ------------------------------------------------------------------ actions
  $("postonly").addEventListener("change", () => { if ($("postonly").checked) $("tif").value = "GTC"; });
  $("tif").addEventListener("change", () => { if ($("tif").value !== "GTC") $("postonly").checked = false; });
  $("ticket").addEventListener("submit", safely(async (e) => {
    e.preventDefault(); $("ticket-error").textContent = "";
    const body = {
      symbol: state.symbol, side: $("side").value, qty: Number($("qty").value), price: $("price").value.trim(),
      timeInForce: $("tif").value, postOnly: $("postonly").checked, selfTradePrevention: $("stp").value,
      idempotencyKey: newKey(), // one key per click; retries reuse it
    };
    const ghostId = "ghost:" + body.idempotencyKey;
    state.orders.set(ghostId, { orderId: "", key: body.idempotencyKey, side: body.side, qty: body.qty, price: body.price,
      timeInForce: body.timeInForce, postOnly: body.postOnly, status: "PENDING", ghost: true });
    renderOrders();
    try {
      const order = await api("POST", "/order", body);
      state.orders.delete(ghostId);
      upsertOrder(order);
    } catch (err) {
      state.orders.delete(ghostId); renderOrders();
      $("ticket-error").textContent = err.message;
    }
  }));
  async function cancel(orderId) {
    try { upsertOrder(await api("POST", "/cancel", { orderId })); }
    catch (err) { $("ticket-error").textContent = err.message; }
  }

  // ------------------------------------------------------------------ start
  async function start() {
    const sel = $("symbol");
    for (const s of (document.body.dataset.symbols || "TULIP").split(",")) sel.add(new Option(s, s));
    if (location.hash.length > 1) sel.value = decodeURIComponent(location.hash.slice(1));
    state.symbol = sel.value;
    sel.addEventListener("change", () => { location.hash = sel.value; location.reload(); });
    showRegion();
    setConn("offline");
    checkRegion().catch(() => {});
    setInterval(() => { checkRegion().catch(() => {}); }, REGION_CHECK_MS);
    if (state.token) await signIn(state.token, state.username);
  }
  window.tulip = { state }; // for debugging and tests
  start().catch(showError);
})();
