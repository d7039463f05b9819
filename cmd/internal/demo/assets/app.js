// CareCheck demo page: polls /api/state every 500 ms and draws each phone's
// conversation and the escalations; what you type goes to /api/send, which
// delivers it to the service as the provider's signed webhook.
"use strict";

const phonesEl = document.getElementById("phones");
const escEl = document.getElementById("escalations");
const banner = document.getElementById("banner");
const panels = new Map(); // phone id → {el, thread, chips, sig}
let skew = 0; // server clock minus ours, ms
let built = false;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function clock(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function showError(msg) {
  banner.textContent = msg;
  banner.hidden = false;
}

function clearError() {
  banner.hidden = true;
}

async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const out = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(out.error || ("HTTP " + r.status));
  return out;
}

async function send(phone, text) {
  try {
    await post("/api/send", { phone, text });
    clearError();
  } catch (e) {
    showError("Could not send: " + e.message);
  }
  poll(true);
}

async function press(phone, label, data) {
  try {
    await post("/api/press", { phone, label, data });
    clearError();
  } catch (e) {
    showError("Could not press: " + e.message);
  }
  poll(true);
}

function build(st) {
  document.getElementById("agency").textContent = st.agency;
  const svc = document.getElementById("service");
  svc.textContent = st.service_url;
  svc.href = st.service_url + "/healthz";
  document.getElementById("apikey").textContent = st.api_key;
  const t = st.timings;
  for (const [cls, v] of [["t-reply", t.reply_window], ["t-assigned", t.assigned_wait], ["t-backup", t.backup_wait], ["t-repeat", t.repeat]]) {
    for (const e of document.getElementsByClassName(cls)) e.textContent = v;
  }
  const auth = '-H "Authorization: Bearer $KEY"';
  const cl = "$URL/v1/clients/" + st.sms_client_id;
  const curl = document.getElementById("curl");
  const lines = [
    "URL=" + st.service_url,
    "KEY=" + st.api_key,
    "# escalations, with their audit trail",
    "curl -s $URL/v1/escalations " + auth,
    "# the clients, and what Rosa answered",
    "curl -s $URL/v1/clients " + auth,
    "curl -s " + cl + "/responses " + auth,
    "# start a check-in for Rosa now",
    "curl -s -X POST " + cl + "/checkins " + auth + " \\",
    "     -d '{\"questionnaire\":\"phq2\"}'",
  ];
  for (const line of lines) {
    curl.appendChild(line.startsWith("#") ? el("span", "c", line) : document.createTextNode(line));
    curl.appendChild(document.createTextNode("\n"));
  }

  const tpl = document.getElementById("phone-tpl");
  for (const p of st.phones) {
    const node = tpl.content.firstElementChild.cloneNode(true);
    node.dataset.phone = p.id;
    node.dataset.channel = p.channel;
    node.dataset.role = p.client ? "client" : "staff";
    node.querySelector(".name").textContent = p.name;
    node.querySelector(".role").textContent = p.role;
    node.querySelector(".chan").textContent = p.channel === "sms" ? "SMS" : "Telegram";
    node.querySelector(".number").textContent = p.address;
    const form = node.querySelector(".compose");
    const input = form.querySelector("input");
    input.placeholder = p.channel === "sms" ? "Text as " + p.name.split(" ")[0] + "…" : "Message as " + p.name.split(" ")[0] + "…";
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      send(p.id, text);
    });
    if (p.client) {
      const box = node.querySelector(".checkin");
      box.hidden = false;
      box.querySelector(".start").addEventListener("click", async () => {
        try {
          await post("/api/checkin", { phone: p.id, questionnaire: box.querySelector("select").value });
          clearError();
        } catch (e) {
          showError("Could not start a check-in: " + e.message);
        }
      });
    }
    phonesEl.appendChild(node);
    panels.set(p.id, { el: node, thread: node.querySelector(".thread"), chips: node.querySelector(".chips"), sig: "", chipSig: null });
  }
  built = true;
}

function chipsFor(p) {
  if (p.client) {
    const c = ["I want to end my life", "HELP"];
    if (p.channel === "sms") c.unshift("7");
    return c.map((t) => ({ text: t }));
  }
  // Staff: offer the ACK code of the latest alert.
  for (let i = p.messages.length - 1; i >= 0; i--) {
    const m = p.messages[i];
    if (m.mine) continue;
    const code = /ACK (\d+)/.exec(m.text);
    if (code) return [{ text: "ACK " + code[1], ack: true }];
  }
  return [];
}

function renderPhone(p) {
  const panel = panels.get(p.id);
  if (!panel) return;
  const sig = JSON.stringify(p.messages);
  if (sig !== panel.sig) {
    const th = panel.thread;
    const atBottom = th.scrollHeight - th.scrollTop - th.clientHeight < 60;
    th.replaceChildren();
    if (p.messages.length === 0) th.appendChild(el("p", "empty", "No messages yet."));
    for (const m of p.messages) {
      const b = el("div", "msg " + (m.mine ? "out" : "in"));
      if (m.pressed) b.classList.add("pressed");
      if (!m.mine && /ACK \d+/.test(m.text)) b.classList.add("alert");
      if (!m.mine && /\b988\b/.test(m.text)) b.classList.add("safety");
      b.appendChild(document.createTextNode(m.pressed ? "▸ " + m.text : m.text));
      if (m.buttons && m.buttons.length) {
        const kb = el("div", "kb");
        for (const btn of m.buttons) {
          const bb = el("button", "", btn.label);
          bb.type = "button";
          bb.dataset.data = btn.data;
          bb.addEventListener("click", () => press(p.id, btn.label, btn.data));
          kb.appendChild(bb);
        }
        b.appendChild(kb);
      }
      if (m.problem) b.appendChild(el("span", "problem", "⚠ " + m.problem));
      b.appendChild(el("span", "time", clock(m.at)));
      th.appendChild(b);
    }
    if (atBottom || !panel.sig) th.scrollTop = th.scrollHeight;
    panel.sig = sig;
  }
  const chips = chipsFor(p);
  const chipSig = JSON.stringify(chips);
  if (chipSig !== panel.chipSig) {
    panel.chips.replaceChildren();
    for (const c of chips) {
      const b = el("button", c.ack ? "ack" : "", c.text);
      b.type = "button";
      b.title = "Send “" + c.text + "”";
      b.addEventListener("click", () => send(p.id, c.text));
      panel.chips.appendChild(b);
    }
    panel.chipSig = chipSig;
  }
}

function renderEscalations(st) {
  const list = st.escalations || [];
  escEl.replaceChildren();
  if (st.escalations_error) escEl.appendChild(el("p", "banner", "GET /v1/escalations failed: " + st.escalations_error));
  if (list.length === 0) {
    escEl.appendChild(el("p", "empty", "No escalation yet. A crisis message opens one."));
    return;
  }
  const now = Date.now() + skew;
  for (const e of list) {
    const card = el("div", "esc");
    card.dataset.status = e.status;
    card.dataset.escId = e.id;
    const head = el("div", "esc-head");
    head.appendChild(el("span", "pill " + e.status, e.status));
    head.appendChild(el("span", "pill level", e.level));
    head.appendChild(el("span", "title", e.client));
    if (e.reasons.length) head.appendChild(el("span", "reasons", "— " + e.reasons.join(", ")));
    card.appendChild(head);
    const where = el("div", "esc-where");
    if (e.status === "open") {
      where.appendChild(document.createTextNode("Now at " + e.where + "."));
      if (e.next_at) {
        const secs = Math.round((new Date(e.next_at).getTime() - now) / 1000);
        where.appendChild(document.createTextNode(" "));
        where.appendChild(el("span", "next", "Next alert (" + e.next_who + ") " + (secs > 0 ? "in " + secs + "s" : "due now")));
      }
    } else if (e.status === "acknowledged") {
      where.textContent = "Acknowledged by " + e.acknowledged_by + " at " + clock(e.acknowledged_at) + ". No more alerts.";
    } else {
      where.textContent = "Resolved at " + clock(e.resolved_at) + ".";
    }
    card.appendChild(where);
    const table = el("table", "audit");
    for (const a of e.audit) {
      const tr = el("tr");
      tr.appendChild(el("td", "t", clock(a.at)));
      tr.appendChild(el("td", "a", a.action));
      tr.appendChild(el("td", "w", a.who));
      tr.appendChild(el("td", "d", a.detail || ""));
      table.appendChild(tr);
    }
    card.appendChild(table);
    escEl.appendChild(card);
  }
}

let timer = null;
let inflight = false;
async function poll(now) {
  if (now && timer) clearTimeout(timer);
  if (inflight) return;
  inflight = true;
  try {
    const r = await fetch("/api/state", { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    const st = await r.json();
    skew = new Date(st.now).getTime() - Date.now();
    if (!built) build(st);
    for (const p of st.phones) renderPhone(p);
    renderEscalations(st);
    if (banner.dataset.down) {
      delete banner.dataset.down;
      clearError();
    }
  } catch (e) {
    banner.dataset.down = "1";
    showError("The demo is not answering (" + e.message + "). Is `carecheck demo` still running?");
  } finally {
    inflight = false;
    timer = setTimeout(poll, 500);
  }
}

poll();
