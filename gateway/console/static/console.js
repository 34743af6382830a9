// copygate console: signs in with an admin token, renders live snapshots, calls the admin API.
// The token lives in sessionStorage and travels only in the Authorization header.
"use strict";

const TOKEN_KEY = "copygate.adminToken";
const $ = (id) => document.getElementById(id);
let stream = null;

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(method, path, body) {
  const init = { method, headers: { Authorization: "Bearer " + token() } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let data = null;
  if (response.status !== 204) { data = await response.json().catch(() => null); }
  return { status: response.status, data };
}

// ---- formatting ------------------------------------------------------------------------
function time(ms) { return ms ? new Date(ms).toLocaleTimeString() : "–"; }
function ago(ms, now) {
  if (!ms) { return "–"; }
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 60 ? s + " s ago" : Math.round(s / 60) + " min ago";
}
function num(v) { return v === null || v === undefined ? "–" : String(v); }
function ms(v) { return v === null || v === undefined ? "–" : v + " ms"; }

function cell(content, cls) {
  const td = document.createElement("td");
  if (content instanceof Node) { td.appendChild(content); } else { td.textContent = content; }
  if (cls) { td.className = cls; }
  return td;
}
function pill(text) {
  const span = document.createElement("span");
  span.className = "pill pill-" + String(text).replace(/[^a-z_]/g, "");
  span.textContent = text;
  return span;
}
const rendered = {};
function fill(tableId, rows, build, empty, now) {
  // Rebuild a table only when its rows changed, so buttons stay put under the pointer.
  const stamp = JSON.stringify(rows) + (now === undefined ? "" : Math.floor(now / 1000));
  if (rendered[tableId] === stamp) { return; }
  rendered[tableId] = stamp;
  const body = $(tableId).tBodies[0];
  body.replaceChildren();
  if (!rows.length) {
    const tr = body.insertRow();
    const td = cell(empty, "muted empty");
    td.colSpan = $(tableId).tHead.rows[0].cells.length;
    tr.appendChild(td);
    return;
  }
  for (const row of rows) {
    const tr = body.insertRow();
    for (const td of build(row)) { tr.appendChild(td); }
  }
}
function button(label, cls, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}
function toast(text, bad) {
  const t = $("toast");
  t.textContent = text;
  t.className = "toast show" + (bad ? " bad" : "");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = "toast"; }, 4000);
}

// ---- rendering -------------------------------------------------------------------------
function telemetry(client) {
  if (!client) { return "–"; }
  return Object.entries(client).map(([k, v]) => k + ": " + (typeof v === "object" ? JSON.stringify(v) : v)).join(" · ");
}

function render(s) {
  const h = s.health;
  $("h-copies").textContent = h.copies_per_minute;
  $("h-p50").textContent = ms(h.latency_p50_ms);
  $("h-p99").textContent = ms(h.latency_p99_ms);
  $("h-backlog").textContent = h.backlog;
  const rej = $("h-rejections");
  rej.replaceChildren();
  if (!h.rejections.length) {
    const li = document.createElement("li"); li.className = "muted"; li.textContent = "none"; rej.appendChild(li);
  }
  for (const r of h.rejections) {
    const li = document.createElement("li");
    li.textContent = r.code + " " + r.meaning + " × " + r.count;
    rej.appendChild(li);
  }
  $("principal").textContent = s.principal.role === "backoffice" ? "back-office" : "tenant " + s.principal.tenant_id;
  const counts = { keys: s.keys, accounts: s.accounts, sessions: s.sessions, subscriptions: s.subscriptions,
    copies: s.copies, dead: s.dead_letters, audit: s.audit };
  for (const [name, rows] of Object.entries(counts)) { $("n-" + name).textContent = rows.length; }

  fill("keys-table", s.keys, (k) => [
    cell(k.account_id), cell(k.key_id, "mono"), cell(time(k.first_seen_ms)),
    cell(telemetry(k.client), "small"),
    cell(actions(k)),
  ], "No keys waiting for approval.");
  fill("accounts-table", s.accounts, (a) => [
    cell(a.account_id), cell(pill(a.role)), cell(a.tenant_id), cell(a.label || "–"), cell(time(a.updated_ms)),
  ], "No accounts.");
  fill("sessions-table", s.sessions, (x) => [
    cell(x.account_id), cell(x.session_id, "mono"), cell(pill(x.state)), cell(num(x.generation)),
    cell(ago(x.last_heartbeat_ms, s.now_ms)),
  ], "No live sessions.", s.now_ms);
  fill("subscriptions-table", s.subscriptions, (x) => [
    cell(x.follower_id), cell(x.master_id), cell(allocation(x.allocation)),
    cell(risk(x.risk), "small"), cell(Object.entries(x.symbol_map).map(([a, b]) => a + "→" + b).join(", ") || "–", "small"),
    cell(pill(x.status)), cell(button("Edit", "ghost", () => edit(x))),
  ], "No subscriptions.");
  fill("copies-table", s.copies, (c) => [
    cell(time(c.times.intent_received_ms)), cell(c.follower_id), cell(c.master_id), cell(c.action),
    cell(c.symbol), cell(pill(c.status)), cell(num(c.filled_volume ?? c.requested_volume)),
    cell(num(c.slippage)),
    cell([c.latency_ms.received_to_queued, c.latency_ms.queued_to_delivered, c.latency_ms.delivered_to_reported].map(num).join(" / "), "mono"),
    cell(ms(c.latency_ms.total)),
  ], "No copies yet.");
  fill("dead-table", s.dead_letters, (d) => [
    cell(time(d.dead_ms)), cell(d.account_id || "–"), cell(d.stream || "–"), cell(num(d.claims)), cell(d.error || "–", "small"),
  ], "No dead letters.");
  fill("audit-table", s.audit, (e) => [
    cell(time(e.ts_ms)), cell(e.actor || "–"), cell(e.action || "–"), cell(e.follower_id || "–"),
    cell(e.master_id || "–"), cell(e.after ? allocation(e.after.allocation) + " · " + e.after.status : "deleted", "small"),
  ], "No audit entries.");
}

function actions(key) {
  const box = document.createElement("div");
  box.className = "actions";
  for (const [decision, cls] of [["approve", "primary"], ["reject", "danger"]]) {
    const b = button(decision === "approve" ? "Approve" : "Reject", cls, async () => {
      const r = await api("POST", "/admin/v1/keys/" + encodeURIComponent(key.key_id) + "/" + decision);
      toast(r.status === 200 ? "Key " + key.key_id + " " + decision + "d" : (r.data?.error?.message || "failed: " + r.status), r.status !== 200);
    });
    b.dataset.action = decision;
    b.dataset.key = key.key_id;
    box.appendChild(b);
  }
  return box;
}
function allocation(a) {
  if (!a) { return "–"; }
  const v = a.multiplier ?? a.risk_fraction ?? a.lots;
  return a.mode + (v === undefined ? "" : " " + v);
}
function risk(r) {
  const set = Object.entries(r || {}).filter(([, v]) => v !== null);
  return set.length ? set.map(([k, v]) => k.replace(/^max_/, "") + " " + v).join(", ") : "no limits";
}

// ---- subscription editor ---------------------------------------------------------------
function field(name) { return $("sub-form").elements.namedItem(name); }
function showModeFields() {
  const mode = field("allocation.mode").value;
  for (const label of $("sub-form").querySelectorAll("[data-modes]")) {
    label.hidden = !label.dataset.modes.split(" ").includes(mode);
  }
}
function optional(name) { const v = field(name).value.trim(); return v === "" ? null : v; }
function subscriptionBody() {
  const mode = field("allocation.mode").value;
  const alloc = { mode };
  const own = { mirror: "multiplier", proportional: "multiplier", fixed_fractional: "risk_fraction", fixed_lot: "lots" }[mode];
  if (optional("allocation." + own) !== null) { alloc[own] = optional("allocation." + own); }
  const map = {};
  for (const line of field("symbol_map").value.split("\n")) {
    if (!line.trim()) { continue; }
    const [from, to] = line.split("=");
    map[from.trim()] = (to ?? "").trim();
  }
  const riskBody = {};
  for (const name of ["max_drawdown_pct", "max_open_positions", "max_lots_per_symbol", "max_total_lots", "max_orders_per_minute"]) {
    riskBody[name] = optional("risk." + name);
  }
  return {
    allocation: alloc, risk: riskBody, symbol_map: map, status: field("status").value,
    max_signal_age_ms: optional("max_signal_age_ms"), reverse: field("reverse").checked,
    copy_sl_tp: field("copy_sl_tp").checked, copy_pending: field("copy_pending").checked,
  };
}
const MODES = new Set(["mirror", "proportional", "fixed_fractional", "fixed_lot"]);
function errorSlot(loc) {
  // The API's 422 loc, without the body/mode/key parts, down to the nearest field shown.
  const parts = loc.filter((p) => p !== "body" && !MODES.has(p) && p !== "[key]");
  for (let n = parts.length; n > 0; n--) {
    const slot = $("sub-form").querySelector('[data-error-for="' + parts.slice(0, n).join(".") + '"]');
    if (slot) { return slot; }
  }
  return parts[0] === "allocation" ? $("sub-form").querySelector('[data-error-for="allocation.mode"]') : null;
}
function clearErrors() {
  for (const slot of $("sub-form").querySelectorAll(".field-error")) { slot.textContent = ""; slot.parentElement.classList.remove("invalid"); }
  $("sub-error").textContent = "";
}
async function saveSubscription(event) {
  event.preventDefault();
  clearErrors();
  const follower = field("follower_id").value.trim();
  const master = field("master_id").value.trim();
  const r = await api("PUT", "/admin/v1/accounts/" + encodeURIComponent(follower) + "/subscriptions/" + encodeURIComponent(master), subscriptionBody());
  if (r.status === 200) { toast("Subscription " + follower + " ← " + master + " saved"); return; }
  const error = r.data?.error;
  for (const detail of error?.details || []) {
    const loc = detail.loc[0] === "path" ? [detail.loc[1]] : detail.loc;
    const slot = errorSlot(loc);
    if (slot) { slot.textContent = detail.msg; slot.parentElement.classList.add("invalid"); }
    else { $("sub-error").textContent = detail.msg; }
  }
  if (!error?.details?.length) { $("sub-error").textContent = error?.message || "failed: " + r.status; }
}
function edit(x) {
  clearErrors();
  field("follower_id").value = x.follower_id;
  field("master_id").value = x.master_id;
  field("allocation.mode").value = x.allocation.mode;
  for (const name of ["multiplier", "risk_fraction", "lots"]) { field("allocation." + name).value = x.allocation[name] ?? ""; }
  for (const [name, value] of Object.entries(x.risk)) { field("risk." + name).value = value ?? ""; }
  field("status").value = x.status;
  field("max_signal_age_ms").value = x.max_signal_age_ms ?? "";
  for (const name of ["reverse", "copy_sl_tp", "copy_pending"]) { field(name).checked = x[name]; }
  field("symbol_map").value = Object.entries(x.symbol_map).map(([a, b]) => a + "=" + b).join("\n");
  showModeFields();
}

// ---- live updates ----------------------------------------------------------------------
async function listen() {
  const controller = new AbortController();
  stream = controller;
  while (stream === controller) {
    try {
      const response = await fetch("/admin/v1/console/events", {
        headers: { Authorization: "Bearer " + token(), Accept: "text/event-stream" }, signal: controller.signal,
      });
      if (response.status === 401) { signOut("That token is not valid any more."); return; }
      $("live").className = "live on";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) { break; }
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) { render(JSON.parse(data)); }
        }
      }
    } catch (err) {
      if (controller.signal.aborted) { return; }
    }
    $("live").className = "live";
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

// ---- sign-in ---------------------------------------------------------------------------
function show(signedIn) {
  $("signin").hidden = signedIn;
  $("console").hidden = !signedIn;
  $("who").hidden = !signedIn;
}
async function signIn(event) {
  event.preventDefault();
  const value = $("token").value.trim();
  sessionStorage.setItem(TOKEN_KEY, value);
  const r = await api("GET", "/admin/v1/accounts");
  if (r.status !== 200) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("signin-error").textContent = r.data?.error?.message || "sign-in failed (" + r.status + ")";
    return;
  }
  $("token").value = "";
  $("signin-error").textContent = "";
  start();
}
function signOut(message) {
  for (const name of Object.keys(rendered)) { delete rendered[name]; }
  if (stream) { stream.abort(); stream = null; }
  sessionStorage.removeItem(TOKEN_KEY);
  $("signin-error").textContent = typeof message === "string" ? message : "";
  show(false);
}
function start() { show(true); listen(); }

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("sub-form").addEventListener("submit", saveSubscription);
  field("allocation.mode").addEventListener("change", showModeFields);
  for (const tab of document.querySelectorAll("#tabs button")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll("#tabs button")) { other.classList.toggle("active", other === tab); }
      for (const panel of document.querySelectorAll(".panel")) { panel.hidden = panel.dataset.panel !== tab.dataset.tab; }
    });
  }
  if (token()) { start(); } else { show(false); }
});
