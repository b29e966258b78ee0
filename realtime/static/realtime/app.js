/* TulipBroker trading page: plain JS, no build step. Contract: docs/api.md (REST and WebSocket).
   Never calls console.error (docs/rules.md, service levels); failures are shown in the page instead. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const MAX_TRADES = 20, DEPTH = 5, BACKOFF_BASE_MS = 250, BACKOFF_CAP_MS = 2000, REST_TRIES = 4;
  const state = {
    token: sessionStorage.getItem("tulip.token") || "", symbol: "TULIP", ws: null, attempt: 0,
    live: false, book: { seq: 0, bids: new Map(), asks: new Map() }, lastTradeSeq: null,
    orders: new Map(), // orderId (or ghost key) -> order row data
  };

  // ------------------------------------------------------------------ helpers
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const jitter = (attempt) => Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  const newKey = () => "web-" + (crypto.randomUUID ? crypto.randomUUID() :
    Date.now().toString(36) + Math.random().toString(36).slice(2)).replace(/[^A-Za-z0-9._:-]/g, "");
  function banner(text, live) {
    const el = $("banner");
    el.textContent = text; el.hidden = !text; el.classList.toggle("live", !!live);
  }
  async function api(method, path, body, opts = {}) {
    // Retries transient failures with the SAME body (and so the same idempotency key).
    let last = null;
    for (let attempt = 0; attempt < (opts.tries || REST_TRIES); attempt++) {
      if (attempt) await sleep(jitter(attempt));
      try {
        const res = await fetch(path, {
          method, headers: Object.assign({ "Content-Type": "application/json" },
            state.token && !opts.anonymous ? { Authorization: "Bearer " + state.token } : {}),
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const data = await res.json().catch(() => ({}));
        if (res.status >= 500 || res.status === 429) { last = data; continue; }
        if (!res.ok) throw Object.assign(new Error((data.error && data.error.message) || res.status), { status: res.status, data });
        return data;
      } catch (err) {
        if (err.status) throw err;
        last = err; // network failure: retry
      }
    }
    throw Object.assign(new Error("The server is unavailable; retried " + REST_TRIES + " times."), { data: last });
  }

  // ------------------------------------------------------------------ sign in
  async function signIn(token, username) {
    state.token = token;
    sessionStorage.setItem("tulip.token", token);
    $("signin").hidden = true; $("app").hidden = false; $("signout").hidden = false;
    $("who").textContent = username || "";
    connect();
    await loadOrders();
  }
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault(); $("signin-error").textContent = "";
    try {
      const r = await api("POST", "/auth/login", { username: $("username").value, password: $("password").value }, { anonymous: true, tries: 2 });
      await signIn(r.accessToken, r.username);
    } catch (err) { $("signin-error").textContent = err.message; }
  });
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault(); const t = $("token").value.trim(); if (t) signIn(t, "token");
  });
  $("signout").addEventListener("click", () => { sessionStorage.removeItem("tulip.token"); location.reload(); });

  // ------------------------------------------------------------------ stream
  function connect() {
    banner(state.attempt ? "Reconnecting… syncing" : "Connecting…", false);
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws?token=${encodeURIComponent(state.token)}`);
    state.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ op: "subscribe", topics: [`trades:${state.symbol}`, `book:${state.symbol}`, "orderStatus"] }));
    };
    ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
    ws.onerror = () => {}; // the close handler decides; nothing to log
    ws.onclose = async (ev) => {
      if (state.ws !== ws) return;
      state.live = false;
      if (ev.code === 4401) { banner("Your session expired — sign in again.", false); sessionStorage.removeItem("tulip.token"); return; }
      banner("Reconnecting… syncing", false);
      const delay = jitter(state.attempt++);
      await sleep(delay);
      connect();
    };
  }
  function resubscribeBook() {
    if (!state.ws || state.ws.readyState !== 1) return;
    const topic = `book:${state.symbol}`;
    state.ws.send(JSON.stringify({ op: "unsubscribe", topics: [topic] }));
    state.ws.send(JSON.stringify({ op: "subscribe", topics: [topic] }));
  }
  function onMessage(m) {
    switch (m.type) {
      case "subscribed":
        if (m.topic === `book:${state.symbol}`) {
          if (state.attempt) loadOrders(); // re-read open orders after a reconnect (docs/api.md)
          state.attempt = 0; state.live = true; banner("Live", true);
          setTimeout(() => { if (state.live) banner("", true); }, 1500);
        }
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
        state.lastTradeSeq = m.seq; addTrade(m); break;
      case "orderStatus":
        upsertOrder(m.order); break;
      case "error":
        $("ticket-error").textContent = m.message || m.code; break;
      default: break; // heartbeat, pong, unsubscribed
    }
  }

  // ------------------------------------------------------------------ rendering
  function renderBook() {
    const byPrice = (a, b) => Number(b.price) - Number(a.price);
    const asks = [...state.book.asks.values()].sort((a, b) => Number(a.price) - Number(b.price)).slice(0, DEPTH).reverse();
    const bids = [...state.book.bids.values()].sort(byPrice).slice(0, DEPTH);
    const rows = asks.map((l) => `<tr class="ask"><td></td><td>${l.price}</td><td>${l.qty}</td></tr>`)
      .concat(bids.map((l) => `<tr class="bid"><td>${l.qty}</td><td>${l.price}</td><td></td></tr>`));
    document.querySelector("#ladder tbody").innerHTML = rows.join("");
    $("book-seq").textContent = "seq " + state.book.seq;
  }
  function addTrade(t) {
    const tbody = document.querySelector("#tape tbody");
    const tr = document.createElement("tr");
    tr.innerHTML = `<td>${String(t.ts || "").slice(11, 19)}</td><td>${t.takerSide}</td><td>${t.price}</td><td>${t.qty}</td>`;
    tbody.prepend(tr);
    while (tbody.children.length > MAX_TRADES) tbody.lastChild.remove();
  }
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
    for (const o of rows) {
      const tr = document.createElement("tr");
      tr.dataset.orderId = o.orderId || ""; tr.dataset.key = o.key || "";
      tr.dataset.status = o.ghost ? "PENDING" : o.status;
      if (o.ghost) tr.className = "ghost";
      const open = ["ACCEPTED", "OPEN", "PARTIALLY_FILLED"].includes(o.status) && !o.ghost;
      tr.innerHTML = `<td>${(o.orderId || "…").slice(0, 8)}</td><td>${o.side}</td><td>${o.qty}</td><td>${o.price}</td>` +
        `<td>${o.filledQty || 0}</td><td class="status">${o.ghost ? "syncing…" : o.status}</td>` +
        `<td>${open ? '<button class="cancel">Cancel</button>' : ""}</td>`;
      if (open) tr.querySelector(".cancel").addEventListener("click", () => cancel(o.orderId));
      tbody.appendChild(tr);
    }
  }
  async function loadOrders() {
    try {
      const page = await api("GET", `/orders?status=open&symbol=${state.symbol}`);
      for (const o of page.items) upsertOrder(o);
    } catch (err) { $("ticket-error").textContent = err.message; }
  }

  // ------------------------------------------------------------------ actions
  $("ticket").addEventListener("submit", async (e) => {
    e.preventDefault(); $("ticket-error").textContent = "";
    const body = {
      symbol: state.symbol, side: $("side").value, qty: Number($("qty").value), price: $("price").value.trim(),
      timeInForce: $("tif").value, postOnly: $("postonly").checked, idempotencyKey: newKey(), // one key per click
    };
    const ghostId = "ghost:" + body.idempotencyKey;
    state.orders.set(ghostId, { orderId: "", key: body.idempotencyKey, side: body.side, qty: body.qty, price: body.price, status: "PENDING", ghost: true });
    renderOrders();
    try {
      const order = await api("POST", "/order", body); // retries reuse body.idempotencyKey
      state.orders.delete(ghostId);
      upsertOrder(order);
    } catch (err) {
      state.orders.delete(ghostId); renderOrders();
      $("ticket-error").textContent = err.message;
    }
  });
  async function cancel(orderId) {
    try { upsertOrder(await api("POST", "/cancel", { orderId })); }
    catch (err) { $("ticket-error").textContent = err.message; }
  }

  // ------------------------------------------------------------------ start
  async function start() {
    const sel = $("symbol");
    for (const s of (document.body.dataset.symbols || "TULIP").split(",")) sel.add(new Option(s, s));
    state.symbol = sel.value;
    sel.addEventListener("change", () => { state.symbol = sel.value; location.hash = sel.value; location.reload(); });
    if (location.hash.length > 1) { sel.value = location.hash.slice(1); state.symbol = sel.value; }
    if (state.token) await signIn(state.token, "");
  }
  window.tulip = { state }; // for debugging and tests
  start();
})();
