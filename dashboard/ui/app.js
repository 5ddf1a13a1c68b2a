// The gray dashboard: polls the state API and redraws the current page in
// place (no reload). Plain JavaScript, no dependencies.
"use strict";

const POLL_MS = 1500;
const PAGE_SIZE = 100;
const pages = ["overview", "nodes", "actors", "placement-groups", "jobs", "tasks", "objects", "logs"];
const taskView = { offset: 0, state: "", name: "", total: 0 };

function el(id) { return document.getElementById(id); }

function text(s) { return s === undefined || s === null || s === "" ? "–" : String(s); }

function short(id) { return id ? id.slice(0, 12) : "–"; }

// row builds a <tr> from cells: strings or {text, cls}.
function row(cells, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  for (const c of cells) {
    const td = document.createElement("td");
    if (c === null) {
      td.textContent = "";
    } else if (typeof c === "object") {
      td.textContent = text(c.text);
      if (c.cls) td.className = c.cls;
      if (c.title) td.title = c.title;
    } else {
      td.textContent = text(c);
    }
    tr.appendChild(td);
  }
  return tr;
}

function fill(tbodyId, rows, empty) {
  const body = el(tbodyId);
  body.replaceChildren(...rows);
  if (rows.length === 0) {
    const tr = row([empty || "none"]);
    tr.firstChild.colSpan = body.parentElement.querySelectorAll("th").length;
    body.appendChild(tr);
  }
}

async function api(path) {
  const resp = await fetch(path, { cache: "no-store" });
  const body = await resp.json();
  if (!resp.ok || !body.result) throw new Error(body.msg || resp.statusText);
  return body.data.result;
}

function fmtAmount(name, v) {
  if (name === "memory" || name === "object_store_memory") {
    const units = [["GiB", 1 << 30], ["MiB", 1 << 20], ["KiB", 1 << 10]];
    for (const [u, n] of units) if (v >= n) return (v / n).toFixed(1) + u;
    return v + "B";
  }
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function usage(n) {
  const parts = [];
  for (const name of Object.keys(n.resources_total).sort()) {
    const total = n.resources_total[name];
    const used = n.state === "DEAD" ? 0 : total - (n.resources_available[name] || 0);
    parts.push(name + " " + fmtAmount(name, used) + "/" + fmtAmount(name, total));
  }
  return parts.join(", ");
}

function fmtTime(ms) { return ms ? new Date(ms).toLocaleString() : "–"; }

function duration(t) {
  if (!t.start_time_ms) return "–";
  const end = t.end_time_ms || Date.now();
  return ((end - t.start_time_ms) / 1000).toFixed(3) + "s";
}

async function drawOverview() {
  const c = await api("/api/v0/cluster");
  el("nodes-alive").textContent = c.nodes_alive;
  el("nodes-dead").textContent = c.nodes_dead;
  el("jobs-count").textContent = c.jobs;
  el("actors-alive").textContent = c.actors_by_state.ALIVE || 0;
  el("tasks-running").textContent = c.tasks_by_state.RUNNING || 0;
  el("tasks-finished").textContent = c.tasks_by_state.FINISHED || 0;
  el("tasks-failed").textContent = c.tasks_by_state.FAILED || 0;
  const pgs = c.placement_groups_by_state || {};
  el("pgs-pending").textContent = (pgs.PENDING || 0) + (pgs.RESCHEDULING || 0);
  fill("cluster-resources", Object.keys(c.resources_total).sort().map(name => {
    const total = c.resources_total[name], used = c.resources_used[name] || 0;
    const tr = row([name, fmtAmount(name, used) + " / " + fmtAmount(name, total), null]);
    const bar = document.createElement("span");
    bar.className = "bar";
    const fillEl = document.createElement("span");
    fillEl.style.width = (total > 0 ? Math.min(100, 100 * used / total) : 0) + "%";
    bar.appendChild(fillEl);
    tr.lastChild.appendChild(bar);
    return tr;
  }), "no live node");
  fill("overview-nodes", c.nodes.map(n => row([{ text: short(n.node_id), cls: "mono", title: n.node_id },
    { text: n.state, cls: "state-" + n.state }, { text: n.node_ip, cls: "mono" }, usage(n)])));
  fill("overview-pgs", (c.pending_placement_groups || []).map(d => row([{ text: d.shape, cls: "mono" }, d.count,
    { text: d.infeasible ? infeasibleWhy(d.reason) : d.reason, cls: d.infeasible ? "error" : "" }], d.infeasible ? "failed" : "")),
    "no placement group waits");
  const notes = [];
  if (c.task_events_dropped) notes.push(c.task_events_dropped + " task events were dropped by their owners");
  if (c.tasks_evicted) notes.push(c.tasks_evicted + " old tasks were evicted from the GCS's task table");
  el("overview-note").textContent = notes.join("; ");
}

async function drawNodes() {
  const r = await api("/api/v0/nodes");
  const labels = n => Object.keys(n.labels || {}).sort().map(k => k + "=" + n.labels[k]).join(", ");
  const demand = n => (n.pending_demand || []).map(d => shape(d.resources) + " ×" + d.count + (d.infeasible ? " INFEASIBLE: " + d.reason : "")).join("; ");
  fill("nodes-body", r.result.map(n => row([{ text: n.node_id, cls: "mono" }, { text: n.state, cls: "state-" + n.state },
    { text: n.node_ip, cls: "mono" }, usage(n), { text: labels(n), cls: "mono" },
    { text: demand(n), cls: (n.pending_demand || []).some(d => d.infeasible) ? "error" : "" }, n.death_cause], n.state === "DEAD" ? "failed" : "")));
}

async function drawActors() {
  const [r, s] = await Promise.all([api("/api/v0/actors"), api("/api/v0/actors/summarize")]);
  el("actors-summary").textContent = s.total + " actors: " +
    Object.keys(s.by_state).sort().map(k => s.by_state[k] + " " + k).join(", ");
  fill("actors-body", r.result.map(a => row([{ text: short(a.actor_id), cls: "mono", title: a.actor_id }, a.name,
    { text: a.state, cls: "state-" + a.state }, { text: a.job_id, cls: "mono" }, { text: short(a.node_id), cls: "mono" },
    a.num_restarts + (a.max_restarts < 0 ? " / ∞" : " / " + a.max_restarts), { text: a.death_cause, cls: a.death_cause ? "error" : "" }],
    a.state === "DEAD" ? "failed" : "")));
}

// shape formats a resource map as the CLI does: {CPU: 1, GPU: 1}.
// infeasibleWhy marks an infeasible group's reason, without the GCS's
// leading "infeasible: ".
function infeasibleWhy(reason) { return "INFEASIBLE: " + (reason || "").replace(/^infeasible: /, ""); }

function shape(res) { return "{" + Object.keys(res).sort().map(k => k + ": " + res[k]).join(", ") + "}"; }

async function drawPlacementGroups() {
  const r = await api("/api/v0/placement_groups");
  const counts = {};
  for (const p of r.result) counts[p.state] = (counts[p.state] || 0) + 1;
  el("pgs-summary").textContent = r.total + " placement groups" + (r.total ? ": " : "") +
    Object.keys(counts).sort().map(k => counts[k] + " " + k).join(", ");
  const bundles = p => p.bundles.map(b => shape(b.unit_resources) + " @ " + (b.node_id ? short(b.node_id) : "unplaced")).join("; ");
  fill("pgs-body", r.result.map(p => {
    const waits = p.state === "PENDING" || p.state === "RESCHEDULING";
    const why = waits ? (p.infeasible ? infeasibleWhy(p.reason) : p.reason) : "";
    return row([{ text: short(p.placement_group_id), cls: "mono", title: p.placement_group_id }, p.name, p.ray_namespace,
      { text: p.state, cls: "state-" + p.state }, p.strategy, { text: bundles(p), cls: "mono" }, p.is_detached ? "yes" : "",
      { text: why, cls: p.infeasible ? "error" : "" }], p.infeasible ? "failed" : "");
  }), "no placement group");
}

// rest calls the job REST API, whose answers are bare JSON (failures
// carry the state API's msg).
async function rest(path, method) {
  const resp = await fetch(path, { method: method || "GET", cache: "no-store" });
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.msg || resp.statusText);
  return body;
}

// jobLog is the submitted job whose driver log is shown ("" for none).
let jobLog = "";

function stopButton(j) {
  const td = document.createElement("td");
  if (j.status !== "PENDING" && j.status !== "RUNNING") return td;
  if (j.stop_requested) {
    td.textContent = "stopping…";
    return td;
  }
  const b = document.createElement("button");
  b.type = "button";
  b.className = "stop";
  b.textContent = "Stop";
  b.dataset.job = j.submission_id;
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await rest("/api/jobs/" + encodeURIComponent(j.submission_id) + "/stop", "POST");
    } catch (e) {
      el("status").textContent = "cannot stop " + j.submission_id + ": " + e.message;
      el("status").className = "status error";
    }
    refresh();
  });
  td.appendChild(b);
  return td;
}

async function drawJobs() {
  const [subs, r] = await Promise.all([rest("/api/jobs/"), api("/api/v0/jobs")]);
  const counts = {};
  for (const j of subs) counts[j.status] = (counts[j.status] || 0) + 1;
  el("submissions-summary").textContent = subs.length + " submitted jobs" + (subs.length ? ": " : "") +
    Object.keys(counts).sort().map(k => counts[k] + " " + k).join(", ");
  fill("submissions-body", subs.map(j => {
    const tr = row([{ text: j.submission_id, cls: "mono link", title: "show the driver's output" }, { text: j.status, cls: "state state-" + j.status },
      { text: j.entrypoint, cls: "mono" }, { text: short(j.driver_node_id), cls: "mono", title: j.driver_node_id },
      fmtTime(j.submit_time), fmtTime(j.start_time), fmtTime(j.end_time),
      { text: j.message, cls: j.status === "FAILED" ? "error" : "" }], j.status === "FAILED" ? "failed" : "");
    tr.dataset.job = j.submission_id;
    tr.firstChild.addEventListener("click", () => { jobLog = jobLog === j.submission_id ? "" : j.submission_id; refresh(); });
    tr.appendChild(stopButton(j));
    return tr;
  }), "no submitted job (gray job submit, or POST /api/jobs/)");
  if (jobLog && !subs.some(j => j.submission_id === jobLog)) jobLog = "";
  el("job-log-name").textContent = jobLog ? "Output of " + jobLog : "";
  if (jobLog) {
    const v = await rest("/api/jobs/" + encodeURIComponent(jobLog) + "/logs");
    el("job-log-note").textContent = [v.bytes ? v.bytes + " bytes" : "", v.message || ""].filter(Boolean).join("; ");
    // Redraw only on change, and follow the end if the reader was there.
    const pre = el("job-log-view");
    if (pre.textContent !== v.logs) {
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent = v.logs;
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }
  } else {
    el("job-log-note").textContent = "";
    el("job-log-view").textContent = "";
  }
  fill("jobs-body", r.result.map(j => row([{ text: j.job_id, cls: "mono" }, { text: j.status, cls: "state-" + j.status },
    fmtTime(j.start_time), fmtTime(j.end_time), { text: j.driver_address, cls: "mono" }])));
}

async function drawTasks() {
  const q = new URLSearchParams({ limit: PAGE_SIZE, offset: taskView.offset });
  if (taskView.state) q.set("state", taskView.state);
  if (taskView.name) q.set("name", taskView.name);
  const r = await api("/api/v0/tasks?" + q);
  taskView.total = r.total;
  if (taskView.offset > 0 && taskView.offset >= r.total) {
    taskView.offset = Math.max(0, Math.floor((r.total - 1) / PAGE_SIZE) * PAGE_SIZE);
  }
  const from = r.total === 0 ? 0 : taskView.offset + 1;
  el("task-page").textContent = from + "–" + (taskView.offset + r.result.length) + " of " + r.total;
  el("task-prev").disabled = taskView.offset === 0;
  el("task-next").disabled = taskView.offset + PAGE_SIZE >= r.total;
  el("tasks-summary").textContent = "";
  fill("tasks-body", r.result.map(t => {
    const err = t.error_type ? t.error_type + ": " + (t.error_message || "") : "";
    return row([{ text: short(t.task_id), cls: "mono", title: t.task_id }, t.name, { text: t.state, cls: "state state-" + t.state },
      t.attempt_number, { text: short(t.node_id), cls: "mono", title: t.node_id }, duration(t), { text: err, cls: err ? "error" : "" }],
      t.state === "FAILED" || t.error_type ? "failed" : "");
  }), "no task matches");
}

async function drawObjects() {
  const r = await api("/api/v0/objects?limit=500");
  let bytes = 0;
  for (const o of r.result) bytes += o.object_size;
  el("objects-summary").textContent = r.total + " copies" + (r.total > r.result.length ? " (first " + r.result.length + " shown)" : "") + ", " + bytes + " bytes shown";
  fill("objects-body", r.result.map(o => row([{ text: short(o.object_id), cls: "mono", title: o.object_id },
    { text: short(o.node_id), cls: "mono", title: o.node_id }, o.object_size, { text: o.owner_address, cls: "mono" },
    o.pinned_primary ? "primary" : "", o.reader_pins])), "no object in any store");
}

let logFile = "";

async function drawLogs() {
  const r = await api("/api/v0/logs");
  fill("logs-body", r.result.map(f => {
    const tr = row([{ text: f.name, cls: "mono link" }, { text: short(f.node_id), cls: "mono", title: f.node_id }, f.bytes, fmtTime(f.modified_ms)]);
    tr.firstChild.addEventListener("click", () => { logFile = f.name; refresh(); });
    return tr;
  }), "no worker log files (workers launched from job binaries write them)");
  if (logFile) {
    const v = await api("/api/v0/logs/file?" + new URLSearchParams({ name: logFile }));
    el("log-name").textContent = v.name + " (" + v.bytes + " bytes)";
    el("log-view").textContent = v.data;
  }
}

const drawers = { overview: drawOverview, nodes: drawNodes, actors: drawActors, "placement-groups": drawPlacementGroups, jobs: drawJobs, tasks: drawTasks, objects: drawObjects, logs: drawLogs };

function current() {
  const p = location.hash.replace("#", "");
  return pages.includes(p) ? p : "overview";
}

let timer = null;
let drawing = false;

async function refresh() {
  clearTimeout(timer);
  const page = current();
  if (!drawing) {
    drawing = true;
    try {
      await drawers[page]();
      el("status").textContent = "updated " + new Date().toLocaleTimeString();
      el("status").className = "status";
      document.body.dataset.loaded = page;
    } catch (e) {
      el("status").textContent = "cannot read the cluster: " + e.message;
      el("status").className = "status error";
    } finally {
      drawing = false;
    }
  }
  timer = setTimeout(refresh, POLL_MS);
}

function show() {
  const page = current();
  for (const p of pages) {
    el("page-" + p).classList.toggle("active", p === page);
  }
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.dataset.page === page);
  }
  delete document.body.dataset.loaded;
  refresh();
}

el("task-state").addEventListener("change", e => { taskView.state = e.target.value; taskView.offset = 0; refresh(); });
el("task-name").addEventListener("change", e => { taskView.name = e.target.value.trim(); taskView.offset = 0; refresh(); });
el("task-prev").addEventListener("click", () => { taskView.offset = Math.max(0, taskView.offset - PAGE_SIZE); refresh(); });
el("task-next").addEventListener("click", () => { taskView.offset += PAGE_SIZE; refresh(); });
window.addEventListener("hashchange", show);
show();
