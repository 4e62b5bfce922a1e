// The inspector's page: the list of captured requests (live, from /api/events), one request
// in detail, replay and copy-as-curl. A request is listed from its arrival: "in flight", its
// duration counting up, until it is answered or cut at its deadline (then it says why). Captured traffic is attacker-controlled: everything shown
// goes through textContent or attributes, never innerHTML.
"use strict";

const DISPLAY_CAP = 64 * 1024; // bytes of a body shown; the full size is stated
const LIST_LIMIT = 500;
const $ = (id) => document.getElementById(id);
const state = { tunnels: [], selected: null, detail: null, refreshing: false, again: false, listedAt: 0 };
const IN_FLIGHT = "in flight";

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

async function api(path, options = {}) {
  // The page's marker (guard.py): a browser too old for Sec-Fetch-Site is let in with it, and
  // no page elsewhere can send it.
  const headers = { "X-Tunnel-Inspector": "page", ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try { message = (await response.json()).msg || message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response.status === 204 ? response : response.json();
}

function humanSize(size) {
  if (size < 1000) return `${size} B`;
  if (size < 1e6) return `${(size / 1000).toFixed(1)} kB`;
  return `${(size / 1e6).toFixed(1)} MB`;
}

function clock(seconds) {
  const d = new Date(seconds * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function duration(ns) {
  const ms = ns / 1e6;
  return ms < 1000 ? `${ms < 10 ? ms.toFixed(1) : Math.round(ms)}ms` : `${(ms / 1000).toFixed(2)}s`;
}

function decode64(text) {
  const binary = atob(text || "");
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function encode64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function headerValue(pairs, name) {
  const found = pairs.find(([key]) => key.toLowerCase() === name);
  return found ? found[1] : "";
}

// The list ------------------------------------------------------------------------------------

function filterQuery() {
  const query = new URLSearchParams({ summary: "1", limit: String(LIST_LIMIT) });
  const path = $("filter-path").value.trim();
  const method = $("filter-method").value;
  const status = $("filter-status").value.trim();
  if (path) query.set("path", path);
  if (method) query.set("method", method);
  if (status) query.set("status", status);
  return query;
}

async function refresh() {
  if (state.refreshing) { state.again = true; return; }
  state.refreshing = true;
  try {
    const { requests } = await api(`/api/requests/http?${filterQuery()}`);
    renderList(requests);
    $("filter-status").setCustomValidity("");
  } catch (error) {
    $("filter-status").setCustomValidity(error.message);
    $("filter-status").title = error.message;
  } finally {
    state.refreshing = false;
    if (state.again) { state.again = false; refresh(); }
  }
}

// An entry's status cell: its status code, or where it is without one.
function statusCell(item) {
  if (item.state === IN_FLIGHT) return el("td", { class: "in-flight", "data-testid": "row-status", text: "in flight" });
  if (!item.response) return el("td", { class: "s5", "data-testid": "row-status", text: "cut" });
  const status = item.response.status_code;
  return el("td", { class: `s${String(status)[0]}`, "data-testid": "row-status", text: String(status) });
}

function renderList(requests) {
  state.listedAt = performance.now();
  const rows = requests.map((item) => {
    const path = el("td", { class: "path", text: item.request.uri, title: item.request.uri });
    if (item.replay_of) path.append(el("span", { class: "badge", "data-testid": "replay-badge", text: "replay" }));
    if (item.error) path.append(el("span", { class: "badge error", text: item.error }));
    if (item.cut) path.append(el("span", { class: "badge error", "data-testid": "cut-badge", text: item.cut }));
    const responseSize = item.response ? item.response.size : 0;
    const sizes = [item.request.size, responseSize].filter((n) => n > 0).map(humanSize).join(" → ") || "0 B";
    const took = el("td", { "data-testid": "row-duration", text: duration(item.duration) });
    if (item.state === IN_FLIGHT) took.setAttribute("data-in-flight", String(item.duration));
    const row = el("tr", { "data-testid": "request-row", "data-id": item.id },
      el("td", { text: clock(item.started) }),
      el("td", { "data-testid": "row-method", text: item.request.method }),
      path,
      statusCell(item),
      took,
      el("td", { text: sizes }));
    if (item.id === state.selected) row.classList.add("selected");
    row.addEventListener("click", () => select(item.id));
    return row;
  });
  $("requests").tBodies[0].replaceChildren(...rows);
  $("empty").hidden = rows.length > 0;
  // The open request was in flight and is no longer: show how it ended.
  const open = state.detail && requests.find((item) => item.id === state.detail.id);
  if (open && state.detail.state === IN_FLIGHT && open.state !== IN_FLIGHT) select(open.id);
}

// Requests in flight count up between updates (the list has each one's duration when listed).
function tick() {
  const since = (performance.now() - state.listedAt) * 1e6;
  for (const cell of document.querySelectorAll("td[data-in-flight]")) {
    cell.textContent = duration(Number(cell.dataset.inFlight) + since);
  }
}

async function loadTunnels() {
  try {
    state.tunnels = (await api("/api/tunnels")).tunnels;
  } catch (_) { return; }
  $("tunnels").replaceChildren(...state.tunnels.map((t) =>
    el("li", { "data-testid": "tunnel", text: `${t.name}: ${t.public_url || "(connecting)"} → ${t.config.addr}` })));
}

function listen() {
  const events = new EventSource("/api/events");
  events.addEventListener("open", () => { $("live").textContent = "live"; $("live").classList.remove("off"); });
  events.addEventListener("error", () => { $("live").textContent = "reconnecting"; $("live").classList.add("off"); });
  events.addEventListener("traffic", () => { refresh(); loadTunnels(); });
}

// One request ---------------------------------------------------------------------------------

async function select(id) {
  state.selected = id;
  for (const row of document.querySelectorAll("#requests tbody tr")) {
    row.classList.toggle("selected", row.dataset.id === id);
  }
  let detail;
  try {
    detail = await api(`/api/requests/http/${encodeURIComponent(id)}`);
  } catch (error) {
    say(error.message);
    return;
  }
  state.detail = detail;
  $("detail").hidden = false;
  $("edit-form").hidden = true;
  $("curl-command").hidden = true;
  say("");
  const request = detail.request, response = detail.response;
  const took = detail.state === IN_FLIGHT ? `in flight for ${duration(detail.duration)}` : duration(detail.duration);
  const bits = [detail.tunnel_name, detail.start, took];
  if (detail.remote_addr) bits.push(`from ${detail.remote_addr}`);
  if (detail.replay_of) bits.push(`replay of ${detail.replay_of}`);
  if (detail.error) bits.push(`answered by the agent: ${detail.error}`);
  if (detail.cut) bits.push(detail.cut);
  $("summary").textContent = bits.join(" · ");
  $("request-line").textContent = `${request.method} ${request.uri} ${request.proto}`;
  renderHeaders($("request-headers"), request.header_list, "request-header");
  renderBody($("request-body"), request);
  if (response) {
    $("response-line").textContent = `${response.proto} ${response.status}`;
    renderHeaders($("response-headers"), response.header_list, "response-header");
    renderBody($("response-body"), response);
  } else {
    $("response-line").textContent = detail.state === IN_FLIGHT
      ? "No response yet: in flight"
      : `No response: ${detail.cut} (the caller got the tunnel's 504)`;
    renderHeaders($("response-headers"), [], "response-header");
    $("response-body").replaceChildren();
  }
  $("replay").disabled = request.truncated;
  $("replay").title = request.truncated ? "only part of the body was captured" : "";
}

function renderHeaders(table, pairs, testid) {
  table.replaceChildren(...pairs.map(([name, value]) =>
    el("tr", { "data-testid": testid }, el("td", { class: "name", text: name }), el("td", { text: value }))));
}

function renderBody(container, message) {
  const bytes = decode64(message.body);
  const parts = [];
  if (!bytes.length && !message.size) {
    container.replaceChildren(el("p", { class: "note", text: "No body" }));
    return;
  }
  if (message.truncated) {
    parts.push(el("p", { class: "note", "data-testid": "body-truncated",
      text: `Captured the first ${humanSize(bytes.length)} of ${humanSize(message.size)} (${message.size.toLocaleString()} bytes).` }));
  }
  const shown = bytes.subarray(0, DISPLAY_CAP);
  if (bytes.length > DISPLAY_CAP) {
    parts.push(el("p", { class: "note", "data-testid": "body-capped",
      text: `Showing the first ${DISPLAY_CAP.toLocaleString()} of ${message.size.toLocaleString()} bytes.` }));
  }
  parts.push(bodyView(shown, headerValue(message.header_list, "content-type"),
    headerValue(message.header_list, "content-encoding"), bytes.length > DISPLAY_CAP || message.truncated, message.size));
  container.replaceChildren(...parts);
}

const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|ecmascript|x-www-form-urlencoded|graphql|x-ndjson)|.*\+(json|xml))/;
// Declared binary: a hex dump even when the bytes happen to be text.
const BINARY_TYPES = /^(application\/(octet-stream|pdf|zip|gzip|x-protobuf|protobuf|wasm)|image\/|audio\/|video\/|font\/)/;
const IMAGE_TYPES = /^image\/(png|jpeg|gif|webp|bmp|avif|x-icon|vnd\.microsoft\.icon|svg\+xml)$/;

function bodyView(bytes, contentType, encoding, partial, size) {
  const type = contentType.split(";")[0].trim().toLowerCase();
  if (!encoding || encoding === "identity") {
    if (IMAGE_TYPES.test(type) && !partial) {
      return el("img", { "data-testid": "body-image", alt: `${type}, ${size} bytes`, src: `data:${type};base64,${encode64(bytes)}` });
    }
    const text = BINARY_TYPES.test(type) ? null : asText(bytes, TEXT_TYPES.test(type));
    if (text !== null) {
      if (type === "application/json" || type.endsWith("+json")) {
        try {
          return el("pre", { "data-testid": "body-json", text: JSON.stringify(JSON.parse(text), null, 2) });
        } catch (_) { /* not JSON after all: shown as text */ }
      }
      if (type === "application/x-www-form-urlencoded") return formTable(text);
      return el("pre", { "data-testid": "body-text", text });
    }
  }
  const label = `${encoding ? `${encoding}-encoded, ` : ""}${size.toLocaleString()} bytes`;
  return el("div", {}, el("p", { class: "note", "data-testid": "body-hex-size", text: label }),
    el("pre", { "data-testid": "body-hex", text: hexDump(bytes) }));
}

function asText(bytes, declared) {
  let text;
  try { text = new TextDecoder("utf-8", { fatal: true }).decode(bytes); } catch (_) {
    if (!declared) return null;
    text = new TextDecoder("utf-8").decode(bytes);
  }
  if (!declared && /[\u0000-\u0008\u000e-\u001f]/.test(text)) return null;
  return text;
}

function formTable(text) {
  const rows = [...new URLSearchParams(text)].map(([name, value]) =>
    el("tr", { "data-testid": "form-field" }, el("td", { text: name }), el("td", { text: value })));
  return el("table", { "data-testid": "body-form" }, ...rows);
}

function hexDump(bytes) {
  const lines = [];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = bytes.subarray(offset, offset + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${offset.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n");
}

// Actions -------------------------------------------------------------------------------------

function say(text) { $("action-status").textContent = text; }

async function replay(edited) {
  const body = { id: state.detail.id };
  if (edited) body.request = edited;
  try {
    const response = await api("/api/requests/http", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    await refresh();
    const location = response.headers.get("Location");
    if (location) await select(location.split("/").pop());
    say("Replayed"); // after select(), which clears the status line for the new selection
  } catch (error) {
    say(`Replay failed: ${error.message}`);
  }
}

function openEdit() {
  const request = state.detail.request;
  $("edit-method").value = request.method;
  $("edit-path").value = request.uri;
  $("edit-headers").value = request.header_list.map(([n, v]) => `${n}: ${v}`).join("\n");
  $("edit-body").value = new TextDecoder("utf-8").decode(decode64(request.body));
  $("edit-form").hidden = false;
}

function sendEdit(event) {
  event.preventDefault();
  const headers = [];
  for (const line of $("edit-headers").value.split("\n")) {
    if (!line.trim()) continue;
    const colon = line.indexOf(":");
    if (colon < 1) { say(`Not a header line: ${line}`); return; }
    headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  const body = encode64(new TextEncoder().encode($("edit-body").value));
  $("edit-form").hidden = true;
  replay({ method: $("edit-method").value.trim(), uri: $("edit-path").value.trim(), headers, body });
}

// The command itself is curl.js's (loaded first): quoting that is safe in POSIX shells and fish.
function curlFor(detail, target) {
  const tunnel = state.tunnels.find((t) => t.name === detail.tunnel_name);
  const local = target === "local" || !tunnel || !tunnel.public_url;
  const base = local ? (tunnel ? tunnel.config.addr : "") : tunnel.public_url.replace(/\/+$/, "");
  return curlCommand(detail.request, decode64(detail.request.body), base, local);
}

async function copyCurl() {
  const { command, left } = curlFor(state.detail, $("curl-target").value);
  $("curl-command").textContent = command;
  $("curl-command").hidden = false;
  const missing = left.length ? ` (it leaves out ${left.join("; ")})` : "";
  try {
    await navigator.clipboard.writeText(command);
    say(`Copied${missing}`);
  } catch (_) {
    say(`Select the command below to copy it${missing}`);
  }
}

function debounce(call, ms) {
  let timer;
  return () => { clearTimeout(timer); timer = setTimeout(call, ms); };
}

document.addEventListener("DOMContentLoaded", () => {
  const later = debounce(refresh, 150);
  $("filter-path").addEventListener("input", later);
  $("filter-status").addEventListener("input", later);
  $("filter-method").addEventListener("change", refresh);
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
  $("clear").addEventListener("click", async () => {
    await api("/api/requests/http", { method: "DELETE" });
    state.selected = null;
    $("detail").hidden = true;
    refresh();
  });
  $("replay").addEventListener("click", () => replay(null));
  $("replay-edit").addEventListener("click", openEdit);
  $("edit-form").addEventListener("submit", sendEdit);
  $("edit-cancel").addEventListener("click", () => { $("edit-form").hidden = true; });
  $("copy-curl").addEventListener("click", copyCurl);
  loadTunnels();
  refresh();
  listen();
  setInterval(tick, 250);
});
