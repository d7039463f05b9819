// CareCheck console: the live inbox. The server says "inbox" on a
// server-sent event stream when the lists changed; the lists are fetched
// again and swapped in, unless the person is typing a note in them.
"use strict";
(function () {
  const lists = document.getElementById("inbox-lists");
  if (!lists || !window.EventSource) return;
  let stale = false;
  const busy = () => lists.contains(document.activeElement) ||
    [...lists.querySelectorAll("textarea")].some((t) => t.value !== "");
  async function refresh() {
    if (busy()) { stale = true; return; }
    stale = false;
    const r = await fetch(lists.dataset.lists, { credentials: "same-origin", headers: { "X-Console-Fetch": "1" } });
    if (r.status === 401) { location.href = "/console/login?expired=1"; return; }
    if (!r.ok) return;
    lists.innerHTML = await r.text();
  }
  const es = new EventSource(lists.dataset.events);
  es.addEventListener("open", () => { lists.dataset.live = "on"; });
  es.addEventListener("error", () => { lists.dataset.live = "off"; });
  es.addEventListener("inbox", refresh);
  es.addEventListener("expired", () => { es.close(); location.href = "/console/login?expired=1"; });
  lists.addEventListener("focusout", () => { if (stale) setTimeout(refresh, 0); });
})();
