// Switchyard dashboard: the page of `switchyard serve`. Plain JavaScript, no
// framework, nothing loaded from anywhere but this server (the
// Content-Security-Policy allows nothing else).
//
// Every string from the API reaches the page as a text node (el(),
// textContent) or an attribute value: never as markup.
//
// The API token is asked once, kept in sessionStorage (this tab only) and
// sent only in the Authorization header. The status comes from the
// server-sent events of /api/v1/events, read through fetch() (EventSource
// cannot send a header) and reconnected with backoff; the views (plan,
// capacity, routes, traffic) are polled, traffic every 2 s while a
// migration is in flight.
"use strict";

(function () {
  const API = "api/v1/";
  const TOKEN_KEY = "switchyard.token";

  // The congestion rule of capacity/monitor (DefaultThresholds, Readings):
  // a side of a node, or of the cluster, raises at RAISE of its capacity
  // and clears below CLEAR. A Go test keeps these equal to the monitor's.
  const RAISE = 0.85;
  const CLEAR = 0.75;
  const RESOURCES = ["cpus", "mem", "disk"];

  // Poll periods (ms): fast while a migration is in flight.
  const TRAFFIC_FAST = 2000;
  const TRAFFIC_SLOW = 10000;
  const TRAFFIC_SOON = 300;
  const VIEWS_FAST = 5000;
  const VIEWS_SLOW = 10000;
  const PLAN_PERIOD = 60000;
  const PLAN_SOON = 1000;
  const SPARK_POINTS = 30;
  const NOTICE_MS = 15000;
  const STREAM_IDLE_MS = 45000;
  const BACKOFF_MIN = 1000;
  const BACKOFF_MAX = 30000;

  // Phases of package migrate.
  const FINALIZED = "Finalized";
  const ROLLED_BACK = "RolledBack";
  const BACKWARD = new Set(["RollingBack", "RolledBack", "RecreatingMarathon", "ShiftingBack", "RemovingKubernetes"]);
  const PAUSABLE = new Set(["Shifting", "ShiftingBack", "Soaking"]);
  const NO_ABORT = new Set(["RollingBack", "RemovingKubernetes", "ReturningToKubernetes"]);

  // phaseOf is a migration's phase without its step ("Shifting[50% applied]"
  // is Shifting); terminal says whether nothing more happens in it.
  const phaseOf = (s) => String(s.phase || "").split("[")[0];
  const terminal = (s) => phaseOf(s) === FINALIZED || phaseOf(s) === ROLLED_BACK;

  const OPS = {
    migrate: { label: "Migrate", verb: "Migrate", danger: false, reason: false,
      text: "Switchyard installs it on Kubernetes, shifts its traffic step by step under its gates, scales Marathon down and finalizes." },
    pause: { label: "Pause", verb: "Pause the migration of", danger: false, reason: true,
      text: "The weights stay where they are until someone resumes or aborts it." },
    resume: { label: "Resume", verb: "Resume the migration of", danger: false, reason: true,
      text: "The current step is watched again, then the shift goes on." },
    abort: { label: "Abort", verb: "Abort the migration of", danger: true, reason: true,
      text: "All traffic goes back where it came from and what the migration created is removed." },
    rollback: { label: "Roll back", verb: "Roll back", danger: true, reason: true,
      text: "Marathon is re-created from the journaled definition, traffic shifts back to it and the Kubernetes release is removed." },
  };

  const $ = (id) => document.getElementById(id);

  const state = {
    session: 0, // bumped at sign-in and sign-out: stale loops stop
    token: "",
    me: null,
    status: null,
    views: { plan: null, capacity: null, routes: null, traffic: null },
    rows: new Map(), // app -> {tr, cells}
    spark: new Map(), // "route|platform" -> [requests per second]
    alerts: new Set(), // active congestion keys (hysteresis)
    alertText: "",
    historyApp: "",
    historyPinned: false,
    historySeq: -1,
    timers: {},
    stream: null,
    summary: "",
  };

  // el builds an element: props set attributes (text: textContent, class:
  // className, on*: listeners), children are nodes or strings (text nodes).
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") e.textContent = String(v);
      else if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // ---- formatting ----

  const pct = (x) => `${Math.round(x)} %`;
  const ratePct = (x) => `${(100 * (x || 0)).toFixed(2)} %`;
  function amount(r, v) {
    if (r === "cpus") return `${(v || 0).toFixed(2)}`;
    if (v >= 1024) return `${(v / 1024).toFixed(1)} GiB`;
    return `${Math.round(v || 0)} MiB`;
  }
  const unit = (r) => (r === "cpus" ? " cores" : "");
  // dur shows a Go duration ("8.128571ms") in milliseconds.
  function dur(d) {
    const m = /^(\d+(?:\.\d+)?)(ns|µs|us|ms|s)$/.exec(String(d || ""));
    if (!m) return String(d || "");
    const ms = Number(m[1]) * { ns: 1e-6, "µs": 1e-3, us: 1e-3, ms: 1, s: 1000 }[m[2]];
    return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
  }
  function clock(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    const t = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
    return d.toDateString() === new Date().toDateString() ? t : `${d.toLocaleDateString()} ${t}`;
  }

  // ---- API ----

  class APIError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, opts = {}) {
    const headers = { Authorization: "Bearer " + state.token };
    let body;
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    let resp;
    try {
      resp = await fetch(API + path, { method: opts.method || "GET", headers, body, cache: "no-store", credentials: "omit" });
    } catch (err) {
      throw new APIError(0, "the server does not answer (" + err.message + ")");
    }
    const text = await resp.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = null;
    }
    if (!resp.ok) {
      const msg = data && typeof data.error === "string" ? data.error : `${resp.status} ${resp.statusText}`;
      if (resp.status === 401 && !opts.noSignOut) signOut("The server refused the token: " + msg);
      throw new APIError(resp.status, msg);
    }
    return data;
  }

  // view reads GET /api/v1/views/NAME: {data} or {error} (404: not
  // configured on this server, 503: what it reads does not answer).
  async function view(name) {
    try {
      return { data: await api("views/" + name) };
    } catch (err) {
      const why = err.status === 404 ? "not configured on this server" : err.status === 503 ? "does not answer" : "failed";
      return { error: `Not available (${why}): ${err.message}` };
    }
  }

  // ---- sign-in ----

  async function signIn(token, remember) {
    const gen = ++state.session;
    state.token = token;
    let me;
    try {
      me = await api("whoami", { noSignOut: true });
    } catch (err) {
      if (gen !== state.session) return;
      state.token = "";
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin(err.status === 401 ? "This token is not accepted." : "Cannot sign in: " + err.message);
      return;
    }
    if (gen !== state.session) return;
    if (remember) sessionStorage.setItem(TOKEN_KEY, token);
    state.me = me;
    $("login").hidden = true;
    $("main").hidden = false;
    $("signout").hidden = false;
    const who = $("who");
    who.hidden = false;
    setText(who, `${me.name} · ${me.role}`);
    who.dataset.role = me.role;
    $("apps").classList.toggle("viewer", !isOperator());
    $("apps").querySelector("thead th:last-child").hidden = !isOperator();
    renderMigrateForm();
    $("main").focus();
    await refreshStatus(gen);
    streamEvents(gen);
    pollTraffic(gen);
    pollViews(gen);
    pollPlan(gen);
  }

  function signOut(message) {
    state.session++;
    state.token = "";
    state.me = null;
    state.status = null;
    state.views = { plan: null, capacity: null, routes: null, traffic: null };
    state.rows.clear();
    state.spark.clear();
    state.alerts.clear();
    state.alertText = "";
    state.historyApp = "";
    state.historyPinned = false;
    state.historySeq = -1;
    state.summary = "";
    for (const t of Object.values(state.timers)) clearTimeout(t);
    state.timers = {};
    if (state.stream) state.stream.abort();
    answer(false);
    sessionStorage.removeItem(TOKEN_KEY);
    for (const id of ["apps-body", "traffic-body", "nodes-body", "plan-body", "history-body", "history-app", "alerts", "notice"]) $(id).replaceChildren();
    $("alerts").hidden = true;
    const f = $("migrate-form");
    if (f) f.remove();
    $("main").hidden = true;
    $("signout").hidden = true;
    $("who").hidden = true;
    $("leader").hidden = true;
    setConn("off", "Not connected");
    showLogin(message || "");
  }

  function showLogin(message) {
    $("login").hidden = false;
    $("main").hidden = true;
    setText($("login-error"), message || "");
    const input = $("token");
    input.value = "";
    input.focus();
  }

  const isOperator = () => state.me && state.me.role === "operator";

  function setConn(kind, text) {
    const c = $("conn");
    c.dataset.state = kind;
    setText(c, text);
  }

  // ---- status: server-sent events ----

  async function refreshStatus(gen) {
    try {
      const st = await api("status");
      if (gen === state.session) onStatus(st);
    } catch (err) {
      if (gen === state.session) notify("Status: " + err.message, true);
    }
  }

  async function streamEvents(gen) {
    let backoff = BACKOFF_MIN;
    let watchdog = 0;
    while (gen === state.session) {
      const ctrl = new AbortController();
      state.stream = ctrl;
      try {
        const resp = await fetch(API + "events", {
          headers: { Authorization: "Bearer " + state.token, Accept: "text/event-stream" },
          cache: "no-store", credentials: "omit", signal: ctrl.signal,
        });
        if (resp.status === 401) {
          signOut("The server refused the token.");
          return;
        }
        if (!resp.ok || !resp.body) throw new Error(`HTTP ${resp.status}`);
        setConn("live", "Live");
        // The server writes at least a comment every 15 s: a stream silent
        // for longer is dead (a connection lost without a reset).
        let last = Date.now();
        watchdog = setInterval(() => {
          if (Date.now() - last > STREAM_IDLE_MS) ctrl.abort(new Error("no data for " + STREAM_IDLE_MS / 1000 + " s"));
        }, 1000);
        await readEvents(resp.body, () => (last = Date.now()), (event, data) => {
          if (gen !== state.session) return;
          backoff = BACKOFF_MIN;
          let v;
          try {
            v = JSON.parse(data);
          } catch (_) {
            return;
          }
          if (event === "status") {
            setConn("live", "Live");
            onStatus(v);
          } else if (event === "error") {
            setConn("retry", "Live, but the journal does not answer: " + (v && v.error));
          }
        });
        throw new Error("the stream ended");
      } catch (err) {
        clearInterval(watchdog);
        if (gen !== state.session) return;
        const wait = Math.round(backoff * (0.8 + 0.4 * Math.random()));
        setConn("retry", `Reconnecting in ${Math.ceil(wait / 1000)} s (${err.message})`);
        await sleep(wait);
        backoff = Math.min(2 * backoff, BACKOFF_MAX);
      }
    }
  }

  // readEvents parses a text/event-stream body: "event:" and "data:"
  // lines, a blank line ends an event, ":" lines are comments; onBytes is
  // called for every chunk read.
  async function readEvents(body, onBytes, onEvent) {
    const reader = body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    let event = "";
    let data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onBytes();
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        let line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.endsWith("\r")) line = line.slice(0, -1);
        if (line === "") {
          if (data.length) onEvent(event || "message", data.join("\n"));
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        if (field === "event") event = val;
        else if (field === "data") data.push(val);
      }
    }
  }

  function onStatus(st) {
    if (!st || !Array.isArray(st.apps)) return;
    const wasMoving = inFlight();
    const ended = (x) => ((x && x.apps) || []).filter(terminal).map((a) => a.app + " " + a.phase).join("\n");
    const endedBefore = ended(state.status);
    state.status = st;
    renderApps();
    renderPlan();
    renderHeaderMeta();
    pickHistory();
    if (!wasMoving && inFlight()) {
      // A migration began: poll the views fast from now on.
      pollTraffic(state.session);
      pollViews(state.session);
    } else if (inFlight()) {
      // The weights moved: show the traffic of the new split soon.
      schedule("traffic", state.session, TRAFFIC_SOON, pollTraffic);
    }
    if (state.views.plan && ended(st) !== endedBefore) {
      // A migration ended: the plan has changed (what is left to migrate).
      schedule("plan", state.session, PLAN_SOON, pollPlan);
    }
  }

  function inFlight() {
    return !!state.status && state.status.apps.some((a) => !terminal(a));
  }

  function renderHeaderMeta() {
    const st = state.status;
    if (!st) return;
    const leader = st.leader ? (st.leader === st.replica ? `${st.replica} (leads)` : `${st.replica}, leader ${st.leader}`) : `${st.replica}, no leader`;
    const p = $("leader");
    p.hidden = false;
    setText(p, leader);
  }

  // ---- polling ----

  function schedule(name, gen, ms, fn) {
    clearTimeout(state.timers[name]);
    state.timers[name] = setTimeout(() => {
      if (gen === state.session) fn(gen);
    }, ms);
  }

  async function pollTraffic(gen) {
    clearTimeout(state.timers.traffic);
    const v = await view("traffic");
    if (gen !== state.session) return;
    state.views.traffic = v;
    recordSpark(v);
    renderTraffic();
    schedule("traffic", gen, inFlight() ? TRAFFIC_FAST : TRAFFIC_SLOW, pollTraffic);
  }

  async function pollViews(gen) {
    clearTimeout(state.timers.views);
    const [capacity, routes] = await Promise.all([view("capacity"), view("routes")]);
    if (gen !== state.session) return;
    state.views.capacity = capacity;
    state.views.routes = routes;
    renderNodes();
    renderAlerts();
    renderApps();
    schedule("views", gen, inFlight() ? VIEWS_FAST : VIEWS_SLOW, pollViews);
  }

  async function pollPlan(gen) {
    clearTimeout(state.timers.plan);
    setText($("plan-meta"), "reading the plan…");
    const v = await view("plan");
    if (gen !== state.session) return;
    state.views.plan = v;
    setText($("plan-meta"), v.data ? `made at ${clock(new Date().toISOString())}` : "");
    renderPlan();
    renderApps();
    pickHistory();
    schedule("plan", gen, PLAN_PERIOD, pollPlan);
  }

  // ---- apps ----

  // appNames is every app the plan or the journal knows, sorted.
  function appNames() {
    const names = new Set();
    for (const a of (state.status && state.status.apps) || []) names.add(a.app);
    const plan = state.views.plan && state.views.plan.data;
    for (const w of (plan && plan.waves) || []) for (const a of w.apps || []) names.add(a.name);
    return [...names].sort();
  }

  function summaryOf(app) {
    return ((state.status && state.status.apps) || []).find((a) => a.app === app);
  }

  function waveOf(app) {
    const plan = state.views.plan && state.views.plan.data;
    for (const w of (plan && plan.waves) || []) if ((w.apps || []).some((a) => a.name === app)) return w.index;
    return 0;
  }

  // routePercents is the route's share per platform (traffic.Percents).
  function routePercents(name) {
    const st = state.views.routes && state.views.routes.data;
    const r = ((st && st.routes) || []).find((x) => x.name === name);
    if (!r) return null;
    let total = 0;
    const per = { marathon: 0, kubernetes: 0 };
    for (const b of r.backends || []) {
      if (b.weight > 0) {
        total += b.weight;
        per[b.platform] = (per[b.platform] || 0) + b.weight;
      }
    }
    if (total === 0) return { marathon: 0, kubernetes: 0, backends: (r.backends || []).length };
    return { marathon: (100 * per.marathon) / total, kubernetes: (100 * per.kubernetes) / total, backends: (r.backends || []).length };
  }

  function platformOf(s, k8s) {
    if (s) {
      if (phaseOf(s) === FINALIZED) return "Kubernetes";
      if (phaseOf(s) === ROLLED_BACK) return "Marathon";
      return BACKWARD.has(phaseOf(s)) ? "Both, back to Marathon" : "Both, to Kubernetes";
    }
    if (k8s === null) return "Marathon";
    if (k8s >= 100) return "Kubernetes";
    return k8s > 0 ? "Both" : "Marathon";
  }

  function phaseKind(s) {
    if (!s) return "none";
    if (s.paused) return "paused";
    if (phaseOf(s) === FINALIZED) return "done";
    if (BACKWARD.has(phaseOf(s)) || phaseOf(s) === "ReturningToKubernetes") return "back";
    return "moving";
  }

  // opsFor is what an operator may do to the app now.
  function opsFor(s, planned) {
    if (!isOperator()) return [];
    if (!s) return planned ? ["migrate"] : [];
    if (phaseOf(s) === ROLLED_BACK) return ["migrate"];
    if (phaseOf(s) === FINALIZED) return ["rollback"];
    const ops = [];
    if (s.paused) ops.push("resume");
    else if (PAUSABLE.has(phaseOf(s))) ops.push("pause");
    if (!NO_ABORT.has(phaseOf(s))) ops.push("abort");
    return ops;
  }

  function newRow(app) {
    const nameBtn = el("button", { type: "button", class: "link app-name", title: "Show its history", onclick: () => showHistory(app, true) }, app);
    // Each cell holds one div (the phone layout puts its label beside it).
    const cells = {
      name: el("div", {}, nameBtn, el("span", { class: "reason app-wave" })),
      platform: el("div", { class: "platform" }),
      phase: el("div", {}, el("span", { class: "phase" }), el("span", { class: "reason why" })),
      weights: el("div", { class: "weights" },
        el("div", { class: "split", role: "img" }, el("span", { class: "m" }), el("span", { class: "k" })),
        el("div", { class: "split-labels" }, el("span", { class: "mpct" }), el("span", { class: "kpct" }))),
      gate: el("div", { class: "gate" }),
      actions: el("div", { class: "actions" }),
    };
    const labels = { name: "App", platform: "Platform", phase: "Phase", weights: "Weights", gate: "Last gate", actions: "Actions" };
    const tds = Object.entries(cells).map(([k, div]) => el("td", { "data-label": labels[k], hidden: k === "actions" && !isOperator() }, div));
    const tr = el("tr", { "data-app": app }, tds);
    return { tr, cells, ops: "" };
  }

  function renderApps() {
    const body = $("apps-body");
    const names = appNames();
    $("apps-empty").hidden = names.length > 0 || !state.status;
    for (const [app, row] of state.rows) {
      if (!names.includes(app)) {
        row.tr.remove();
        state.rows.delete(app);
      }
    }
    let prev = null;
    for (const app of names) {
      let row = state.rows.get(app);
      if (!row) {
        row = newRow(app);
        state.rows.set(app, row);
      }
      const want = prev ? prev.nextSibling : body.firstChild;
      if (want !== row.tr) body.insertBefore(row.tr, want);
      updateRow(app, row);
      prev = row.tr;
    }
    announce();
  }

  function updateRow(app, row) {
    const s = summaryOf(app);
    const wave = waveOf(app);
    const rp = routePercents(app);
    let k8s = null;
    if (s) k8s = s.kubernetesPercent;
    else if (rp) k8s = rp.kubernetes;
    const c = row.cells;
    row.tr.dataset.phase = s ? phaseOf(s) : "";
    row.tr.dataset.k8s = k8s === null ? "" : String(Math.round(k8s));
    row.tr.dataset.paused = s && s.paused ? "true" : "false";

    setText(c.name.querySelector(".app-wave"), wave ? `wave ${wave}` : "");
    setText(c.platform, platformOf(s, k8s));

    const ph = c.phase.querySelector(".phase");
    ph.dataset.kind = phaseKind(s);
    setText(ph, s ? s.phase + (s.paused ? " (paused)" : "") : "Not started");
    setText(c.phase.querySelector(".why"), s && s.reason ? s.reason : "");

    const split = c.weights.querySelector(".split");
    const m = k8s === null ? 0 : 100 - k8s;
    const k = k8s === null ? 0 : k8s;
    split.querySelector(".m").style.width = `${m}%`;
    split.querySelector(".k").style.width = `${k}%`;
    split.setAttribute("aria-label", k8s === null ? "no route" : `Marathon ${pct(m)}, Kubernetes ${pct(k)}`);
    setText(c.weights.querySelector(".mpct"), k8s === null ? "no route" : `Marathon ${pct(m)}`);
    setText(c.weights.querySelector(".kpct"), k8s === null ? "" : `Kubernetes ${pct(k)}`);

    let gate = "—";
    if (s && s.lastRequests > 0) gate = `${ratePct(s.lastErrorRate)} errors · p99 ${dur(s.lastP99)} · ${s.lastRequests} req`;
    setText(c.gate, gate);

    const ops = opsFor(s, wave > 0);
    const key = ops.join(",");
    if (key !== row.ops) {
      const box = c.actions;
      const hadFocus = box.contains(document.activeElement);
      box.replaceChildren(...ops.map((op) => actionButton(op, app)));
      row.ops = key;
      if (hadFocus) (box.querySelector("button") || c.name.querySelector("button")).focus();
    }
  }

  function actionButton(op, app) {
    const o = OPS[op];
    return el("button", {
      type: "button", class: "action small" + (o.danger ? " danger" : ""), "data-op": op, "data-app": app,
      "aria-label": `${o.label} ${app}`,
      onclick: (ev) => runAction(ev.currentTarget, op, { app }),
    }, o.label);
  }

  // announce updates the status region (aria-live) with one line when
  // what is in flight changes.
  function announce() {
    const st = state.status;
    if (!st) return;
    const moving = st.apps.filter((a) => !terminal(a));
    const done = st.apps.filter((a) => phaseOf(a) === FINALIZED).length;
    let text = `${appNames().length} apps, ${done} on Kubernetes`;
    if (moving.length) {
      text += "; migrating: " + moving.map((a) => `${a.app} ${a.phase}${a.paused ? " (paused)" : ""} at ${pct(a.kubernetesPercent)} Kubernetes`).join(", ");
    } else {
      text += "; no migration in flight";
    }
    if (text !== state.summary) {
      state.summary = text;
      setText($("status-region"), text);
    }
  }

  // ---- actions ----

  // renderMigrateForm adds, for operators, a form to migrate apps by name
  // (also when the plan is not available).
  function renderMigrateForm() {
    const old = $("migrate-form");
    if (old) old.remove();
    if (!isOperator()) return;
    const input = el("input", { id: "migrate-apps", type: "text", autocomplete: "off", spellcheck: "false", placeholder: "web, api" });
    const form = el("form", { id: "migrate-form", class: "migrate-form" },
      el("label", { for: "migrate-apps" }, "Migrate apps (names, comma-separated)"),
      el("div", { class: "row" }, input, el("button", { type: "submit", class: "action", "data-op": "migrate" }, "Migrate")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const apps = input.value.split(/[\s,]+/).filter(Boolean);
      if (!apps.length) {
        notify("Name at least one app to migrate.", true);
        input.focus();
        return;
      }
      runAction(form.querySelector("button"), "migrate", { apps });
    });
    $("plan-panel").append(form);
  }

  async function runAction(button, op, target) {
    const o = OPS[op];
    const what = target.wave ? `wave ${target.wave}` : target.apps ? target.apps.join(", ") : target.app;
    const answer = await confirmDialog({
      title: `${o.verb} ${what}?`,
      text: target.wave ? `Every app of wave ${target.wave} (${waveApps(target.wave).join(", ")}) migrates. ${o.text}` : o.text,
      reason: o.reason, danger: o.danger, confirm: `${o.label} ${what}`,
    });
    if (!answer) return;
    const gen = state.session;
    button.disabled = true;
    try {
      let res;
      if (op === "migrate") {
        const body = target.wave ? { wave: target.wave } : { apps: target.apps || [target.app] };
        res = await api("migrations", { method: "POST", body });
      } else {
        res = await api(`apps/${encodeURIComponent(target.app)}/${op}`, { method: "POST", body: answer.reason ? { reason: answer.reason } : {} });
      }
      if (gen !== state.session) return;
      const apps = (res && res.apps) || [];
      notify(`${o.label}: ${apps.join(", ") || what} accepted by ${(res && res.replica) || "the server"}.`, false);
      if (apps.length) showHistory(apps[0], true);
      refreshStatus(gen);
    } catch (err) {
      if (gen === state.session) notify(`${o.label} ${what} refused: ${err.message}`, true);
    } finally {
      button.disabled = false;
    }
  }

  // notify shows the outcome of an action; a success fades after a while,
  // an error stays until the next notice.
  function notify(text, isError) {
    const p = el("p", { class: isError ? "error" : "ok" }, text);
    $("notice").replaceChildren(p);
    if (!isError) setTimeout(() => p.remove(), NOTICE_MS);
  }

  // confirmDialog asks in the modal <dialog>: focus goes to Cancel, Escape
  // cancels, and focus returns where it was. It resolves to {reason} or
  // null. One question at a time: asking holds the open one.
  let asking = null;
  function confirmDialog(o) {
    const dlg = $("confirm");
    if (asking || dlg.open) return Promise.resolve(null);
    setText($("confirm-title"), o.title);
    setText($("confirm-text"), o.text);
    $("confirm-reason-row").hidden = !o.reason;
    $("confirm-reason").value = "";
    const ok = $("confirm-ok");
    setText(ok, o.confirm || "Confirm");
    ok.classList.toggle("danger", !!o.danger);
    return new Promise((resolve) => {
      asking = { resolve, opener: document.activeElement };
      dlg.showModal();
      $("confirm-cancel").focus();
    });
  }

  // answer ends the open question (Confirm: yes; Cancel, Escape or any
  // other close: no).
  function answer(yes) {
    const a = asking;
    if (!a) return;
    asking = null;
    const reason = $("confirm-reason").value.trim();
    const dlg = $("confirm");
    if (dlg.open) dlg.close(yes ? "ok" : "cancel");
    if (a.opener && a.opener.isConnected && typeof a.opener.focus === "function") a.opener.focus();
    a.resolve(yes ? { reason } : null);
  }

  // ---- live traffic ----

  function recordSpark(v) {
    if (!v.data) return;
    const seen = new Set();
    for (const r of v.data) {
      const key = r.route + "|" + r.platform;
      seen.add(key);
      const pts = state.spark.get(key) || [];
      pts.push(r.requestsPerSecond || 0);
      while (pts.length > SPARK_POINTS) pts.shift();
      state.spark.set(key, pts);
    }
    for (const key of [...state.spark.keys()]) if (!seen.has(key)) state.spark.delete(key);
  }

  function spark(key, platform) {
    const pts = state.spark.get(key) || [];
    const max = Math.max(1, ...pts);
    return el("div", { class: "spark " + platform, "aria-hidden": "true" }, pts.map((p) => {
      const s = el("span");
      s.style.height = `${Math.max(2, (100 * p) / max)}%`;
      return s;
    }));
  }

  function renderTraffic() {
    const v = state.views.traffic;
    const box = $("traffic-body");
    setText($("traffic-meta"), v && v.data ? `last 10 s, all load balancers · every ${inFlight() ? TRAFFIC_FAST / 1000 : TRAFFIC_SLOW / 1000} s` : "");
    if (!v || v.error) {
      box.replaceChildren(el("p", { class: "unavailable" }, v ? v.error : "Not available"));
      return;
    }
    if (!v.data.length) {
      box.replaceChildren(el("p", { class: "empty" }, "No route carries traffic."));
      return;
    }
    const routes = new Map();
    for (const r of v.data) {
      if (!routes.has(r.route)) routes.set(r.route, []);
      routes.get(r.route).push(r);
    }
    const parts = [];
    for (const [route, rows] of [...routes].sort((a, b) => a[0].localeCompare(b[0]))) {
      rows.sort((a, b) => a.platform.localeCompare(b.platform));
      parts.push(el("div", { class: "route", "data-route": route },
        el("h3", {}, route),
        el("table", { class: "traffic" },
          el("thead", {}, el("tr", {},
            el("th", { scope: "col" }, "Platform"), el("th", { scope: "col", class: "num" }, "Weight"),
            el("th", { scope: "col", class: "num" }, "Req/s"), el("th", { scope: "col", class: "num" }, "5xx"),
            el("th", { scope: "col", class: "num" }, "p99"), el("th", { scope: "col", class: "trend" }, el("span", { class: "sr-only" }, "Trend")))),
          el("tbody", {}, rows.map((r) => el("tr", { "data-platform": r.platform },
            el("td", {}, el("span", { class: "dot " + r.platform, "aria-hidden": "true" }), r.platform),
            el("td", { class: "num" }, pct(r.weightPercent)),
            el("td", { class: "num" }, (r.requestsPerSecond || 0).toFixed(1)),
            el("td", { class: "num" + (r.errorRate > 0.01 ? " bad" : "") }, ratePct(r.errorRate)),
            el("td", { class: "num" }, `${Math.round(r.p99Ms || 0)} ms`),
            el("td", { class: "trend" }, spark(r.route + "|" + r.platform, r.platform))))))));
    }
    box.replaceChildren(...parts);
  }

  // ---- nodes and congestion ----

  const get = (res, r) => (res && typeof res[r] === "number" ? res[r] : 0);

  function renderNodes() {
    const v = state.views.capacity;
    const box = $("nodes-body");
    if (!v || v.error) {
      setText($("nodes-meta"), "");
      box.replaceChildren(el("p", { class: "unavailable" }, v ? v.error : "Not available"));
      return;
    }
    const nodes = v.data.nodes || [];
    const pods = nodes.reduce((n, x) => n + (x.pods || 0), 0);
    setText($("nodes-meta"), `${nodes.length} nodes · ${pods} pods`);
    if (!nodes.length) {
      box.replaceChildren(el("p", { class: "empty" }, "No node."));
      return;
    }
    box.replaceChildren(...nodes.map(nodeView));
  }

  function nodeView(n) {
    const facts = [n.joined ? "Kubernetes node" : "Mesos only"];
    if (n.cordoned) facts.push("cordoned");
    facts.push(`${n.pods || 0} pods`, `${n.mesosTasks || 0} Mesos tasks`);
    return el("div", { class: "node", "data-node": n.name },
      el("div", { class: "node-head" }, el("strong", {}, n.name), el("span", { class: "meta" }, facts.join(" · "))),
      ["cpus", "mem"].filter((r) => get(n.total, r) > 0).map((r) => resourceBar(n, r)),
      n.violation ? el("p", { class: "violation" }, n.violation) : null);
  }

  // resourceBar splits a node's total of r: Mesos tasks, Kubernetes pods
  // (requests), the rest of the Kubernetes share, free.
  function resourceBar(n, r) {
    const total = get(n.total, r);
    const mesos = get(n.mesosAllocated, r);
    const share = get(n.kubernetesShare, r);
    const pods = Math.min(get(n.podRequests, r), share);
    const idle = Math.max(0, share - pods);
    const free = Math.max(0, get(n.mesosFree, r));
    const segs = [["mesos", mesos], ["pods", pods], ["share", idle], ["free", free]];
    const hot = ratio(mesos + share, total) >= RAISE || (n.joined && ratio(get(n.podRequests, r), get(n.kubernetesAllocatable, r)) >= RAISE);
    const text = `Mesos ${amount(r, mesos)} · Kubernetes share ${amount(r, share)} (pods ${amount(r, get(n.podRequests, r))}) · free ${amount(r, free)} of ${amount(r, total)}${unit(r)}`;
    const bar = el("div", { class: "bar" + (hot ? " hot" : ""), role: "img", "aria-label": `${r}: ${text}` }, segs.map(([cls, val]) => {
      const s = el("span", { class: "seg " + cls });
      s.style.width = `${Math.max(0, Math.min(100, (100 * val) / total))}%`;
      return s;
    }));
    return el("div", { class: "res" }, el("span", { class: "res-name" }, r), bar, el("span", { class: "res-text" }, text));
  }

  function ratio(used, cap) {
    if (cap <= 0) return used > 1e-9 ? Infinity : 0;
    return used / cap;
  }

  // readings mirrors capacity/monitor.Readings: per node and for the
  // cluster, the Mesos side (allocations and the share / total) and, for
  // joined nodes, the Kubernetes side (pod requests / allocatable).
  function readings(report) {
    const out = [];
    const sum = { mu: {}, mt: {}, ku: {}, kt: {} };
    const add = (m, r, v) => (m[r] = (m[r] || 0) + v);
    for (const n of report.nodes || []) {
      for (const r of RESOURCES) {
        const used = get(n.mesosAllocated, r) + get(n.kubernetesShare, r);
        const total = get(n.total, r);
        add(sum.mu, r, used);
        add(sum.mt, r, total);
        if (total > 0 || used > 0) out.push({ key: `node ${n.name} mesos ${r}`, r, used, cap: total });
        if (!n.joined) continue;
        const pu = get(n.podRequests, r);
        const pa = get(n.kubernetesAllocatable, r);
        add(sum.ku, r, pu);
        add(sum.kt, r, pa);
        if (pa > 0 || pu > 0) out.push({ key: `node ${n.name} kubernetes ${r}`, r, used: pu, cap: pa });
      }
    }
    for (const r of RESOURCES) {
      if ((sum.mt[r] || 0) > 0 || (sum.mu[r] || 0) > 0) out.push({ key: `cluster mesos ${r}`, r, used: sum.mu[r] || 0, cap: sum.mt[r] || 0 });
      if ((sum.kt[r] || 0) > 0 || (sum.ku[r] || 0) > 0) out.push({ key: `cluster kubernetes ${r}`, r, used: sum.ku[r] || 0, cap: sum.kt[r] || 0 });
    }
    return out;
  }

  function renderAlerts() {
    const v = state.views.capacity;
    const box = $("alerts");
    if (!v || !v.data) return; // unknown: keep what is shown
    const lines = [];
    const seen = new Set();
    for (const rd of readings(v.data)) {
      seen.add(rd.key);
      const x = ratio(rd.used, rd.cap);
      const active = state.alerts.has(rd.key);
      if ((!active && x >= RAISE) || (active && x >= CLEAR)) {
        state.alerts.add(rd.key);
        const at = Number.isFinite(x) ? `${Math.round(100 * x)}%` : "∞";
        lines.push(`${rd.key} at ${at} (${amount(rd.r, rd.used)} of ${amount(rd.r, rd.cap)}${unit(rd.r)}; raise threshold ${Math.round(100 * RAISE)}%)`);
      } else {
        state.alerts.delete(rd.key);
      }
    }
    for (const k of [...state.alerts]) if (!seen.has(k)) state.alerts.delete(k);
    for (const n of v.data.nodes || []) if (n.violation) lines.push(n.violation);
    const text = lines.join("\n");
    if (text === state.alertText) return;
    state.alertText = text;
    if (!lines.length) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    box.replaceChildren(el("h2", {}, `Congestion: ${lines.length} alert${lines.length > 1 ? "s" : ""}`), el("ul", {}, lines.map((l) => el("li", {}, l))));
    box.hidden = false;
  }

  // ---- plan ----

  function waveApps(n) {
    const plan = state.views.plan && state.views.plan.data;
    const w = ((plan && plan.waves) || []).find((x) => x.index === n);
    return w ? (w.apps || []).map((a) => a.name) : [];
  }

  function renderPlan() {
    const v = state.views.plan;
    const box = $("plan-body");
    if (!v) return;
    if (v.error) {
      box.replaceChildren(el("p", { class: "unavailable" }, v.error));
      return;
    }
    const p = v.data;
    const parts = [];
    if (!p.ok) parts.push(el("p", { class: "blocker" }, `The plan cannot be carried out: ${(p.blockers || []).length} blocker(s).`));
    for (const w of p.warnings || []) parts.push(el("p", { class: "warning" }, w));
    if (!(p.waves || []).length) parts.push(el("p", { class: "empty" }, "No app left to migrate."));
    for (const w of p.waves || []) {
      const apps = w.apps || [];
      const sums = apps.map((a) => summaryOf(a.name));
      let st = "todo";
      if ((w.blockers || []).length) st = "blocked";
      else if (apps.length && sums.every((s) => s && phaseOf(s) === FINALIZED)) st = "done";
      else if (sums.some((s) => s && !terminal(s))) st = "moving";
      const label = { todo: "to do", blocked: "blocked", done: "done", moving: "in flight" }[st];
      const head = el("div", { class: "wave-head" }, el("h3", {}, `Wave ${w.index}`), el("span", { class: "meta" }, `${apps.length} app${apps.length === 1 ? "" : "s"} · ${label}`));
      if (isOperator() && st === "todo") {
        const b = el("button", { type: "button", class: "action small", "data-op": "migrate", "data-wave": w.index, "aria-label": `Migrate wave ${w.index}` }, `Migrate wave ${w.index}`);
        b.addEventListener("click", () => runAction(b, "migrate", { wave: w.index }));
        head.append(b);
      }
      parts.push(el("div", { class: "wave", "data-wave": w.index, "data-state": st }, head,
        el("ul", {}, apps.map((a, i) => el("li", {}, el("strong", {}, a.name), ` · ${a.instances} pod${a.instances === 1 ? "" : "s"}`,
          sums[i] ? ` · ${sums[i].phase}` : "", (a.dependsOn || []).length ? ` · after ${a.dependsOn.join(", ")}` : ""))),
        (w.blockers || []).map((b) => el("p", { class: "blocker" }, [b.message].concat(b.unblock && b.unblock.length ? ["; " + b.unblock.join(", or ")] : []).join(""))),
        (w.warnings || []).map((x) => el("p", { class: "warning" }, x))));
    }
    box.replaceChildren(...parts);
  }

  // ---- history ----

  // pickHistory follows the app that changed last, unless someone chose one.
  function pickHistory() {
    const sel = $("history-app");
    const names = appNames();
    const have = [...sel.options].map((o) => o.value);
    if (have.join("\n") !== names.join("\n")) {
      sel.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
    }
    let app = state.historyApp;
    if (!state.historyPinned || !names.includes(app)) {
      const apps = ((state.status && state.status.apps) || []).slice().sort((a, b) => b.seq - a.seq);
      app = apps.length ? apps[0].app : names[0] || "";
    }
    if (!app) {
      $("history-body").replaceChildren(el("p", { class: "empty" }, "No app yet."));
      return;
    }
    const s = summaryOf(app);
    const seq = s ? s.seq : 0;
    if (app !== state.historyApp || seq !== state.historySeq) showHistory(app, state.historyPinned);
  }

  async function showHistory(app, pinned) {
    const gen = state.session;
    state.historyApp = app;
    state.historyPinned = pinned;
    const s = summaryOf(app);
    state.historySeq = s ? s.seq : 0;
    const sel = $("history-app");
    if (sel.value !== app) sel.value = app;
    const box = $("history-body");
    if (!s) {
      box.replaceChildren(el("p", { class: "empty" }, `${app} has no migration in the journal yet.`));
      return;
    }
    let hs;
    try {
      hs = await api(`apps/${encodeURIComponent(app)}/history`);
    } catch (err) {
      if (gen === state.session && state.historyApp === app) box.replaceChildren(el("p", { class: "unavailable" }, err.message));
      return;
    }
    if (gen !== state.session || state.historyApp !== app) return;
    box.replaceChildren(el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": `Journal of ${app}` }, el("table", { class: "history", "data-app": app },
      el("caption", { class: "sr-only" }, `Journal of ${app}, newest first`),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", class: "num" }, "#"), el("th", { scope: "col" }, "Time"),
        el("th", { scope: "col" }, "Transition"), el("th", { scope: "col", class: "num" }, "Kubernetes"), el("th", { scope: "col" }, "Why"))),
      el("tbody", {}, hs.slice().reverse().map((h) => el("tr", {},
        el("td", { class: "num" }, String(h.seq)),
        el("td", {}, el("time", { datetime: h.time }, clock(h.time))),
        el("td", {}, h.from || "—", el("span", { class: "arrow" }, " → "), h.to, el("span", { class: "reason" }, h.event)),
        el("td", { class: "num" }, pct(h.kubernetesPercent)),
        el("td", {}, el("span", { class: "reason" }, h.reason || ""))))))));
  }

  // ---- start ----

  function boot() {
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const token = $("token").value.trim();
      $("token").value = "";
      if (!token) {
        showLogin("Enter the API token.");
        return;
      }
      setText($("login-error"), "");
      signIn(token, true);
    });
    $("signout").addEventListener("click", () => signOut("Signed out."));
    $("history-app").addEventListener("change", (ev) => showHistory(ev.target.value, true));
    $("confirm-cancel").addEventListener("click", () => answer(false));
    $("confirm-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      answer(true);
    });
    $("confirm").addEventListener("cancel", (ev) => {
      ev.preventDefault();
      answer(false);
    });
    $("confirm").addEventListener("close", () => answer(false));
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) signIn(saved, false);
    else showLogin("");
  }

  boot();
})();
