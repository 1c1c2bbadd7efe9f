// mcpwarden dashboard: the only script of the dashboard (the Content-Security-Policy allows no inline
// script). It keeps the audit list live by polling the JSON API for records newer than the newest shown.
"use strict";

(function () {
  function text(tag, s, cls) {
    var el = document.createElement(tag);
    el.textContent = s;
    if (cls) { el.className = cls; }
    return el;
  }
  function dash(s) { return s ? s : "\u2014"; }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function when(iso) {
    var d = new Date(iso);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function row(e) {
    var tr = document.createElement("tr");
    var action = e.decision ? e.decision.action : "";
    tr.className = "dec-" + action + " fresh";
    var id = document.createElement("td");
    var a = text("a", String(e.id));
    a.href = "/ui/audit/" + e.id;
    id.appendChild(a);
    tr.appendChild(id);
    var t = document.createElement("td");
    var time = text("time", when(e.time));
    time.setAttribute("datetime", e.time);
    t.appendChild(time);
    tr.appendChild(t);
    tr.appendChild(text("td", (e.direction === "server_to_client" ? "\u2190 " : "\u2192 ") + e.kind));
    tr.appendChild(text("td", dash(e.server)));
    tr.appendChild(text("td", dash(e.method)));
    tr.appendChild(text("td", dash(e.name)));
    tr.appendChild(text("td", dash(e.principal && e.principal.user)));
    var dec = document.createElement("td");
    if (action) { dec.appendChild(text("span", action, "badge dec")); } else { dec.textContent = "\u2014"; }
    tr.appendChild(dec);
    return tr;
  }

  function liveAudit(tbody) {
    var after = parseInt(tbody.getAttribute("data-after") || "0", 10);
    var query = tbody.getAttribute("data-query") || "";
    var since = tbody.getAttribute("data-since") || "";
    var status = document.getElementById("live-status");
    var busy = false;
    function poll() {
      if (busy || document.hidden) { return; }
      busy = true;
      var url = "/ui/api/audit/records?limit=200&after_id=" + after + (query ? "&" + query : "") +
        (since ? "&since=" + encodeURIComponent(since) : "");
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) {
          if (r.status === 401) { window.location = "/ui/login?next=" + encodeURIComponent(location.pathname + location.search); }
          if (!r.ok) { throw new Error("HTTP " + r.status); }
          return r.json();
        })
        .then(function (list) {
          if (list.length) {
            var empty = tbody.querySelector("tr.empty");
            if (empty) { empty.remove(); }
          }
          list.forEach(function (e) {
            tbody.insertBefore(row(e), tbody.firstChild);
            if (e.id > after) { after = e.id; }
          });
          while (tbody.rows.length > 500) { tbody.deleteRow(-1); }
          if (status) { status.textContent = "Live: updated " + new Date().toLocaleTimeString() + (list.length ? ", " + list.length + " new" : "") + "."; }
        })
        .catch(function (err) {
          if (status) { status.textContent = "Live updates paused: " + err.message + " (retrying)."; }
        })
        .finally(function () { busy = false; });
    }
    setInterval(poll, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var tbody = document.getElementById("audit-rows");
    if (tbody) { liveAudit(tbody); }
    var flash = document.getElementById("flash");
    if (flash) { flash.setAttribute("tabindex", "-1"); flash.focus(); }
  });
})();
