// MSP Mode dashboard: the live feed on Home. The page works without this file: it lists the
// latest commands as rendered by the server; this adds each new one as it is recorded, stopped
// or warned about, from the server-sent events of /feed (same origin, the sign-in cookie goes
// along).
"use strict";
(function () {
  var list = document.getElementById("feed");
  if (!list || typeof EventSource === "undefined") {
    return;
  }
  var status = document.getElementById("feed-status");
  var url = list.getAttribute("data-src");
  var after = list.getAttribute("data-after");
  if (after) {
    url += "?after=" + encodeURIComponent(after);
  }
  var source = new EventSource(url);
  source.onopen = function () {
    status.textContent = "Live: new commands appear at the top as they are recorded, stopped or warned about.";
  };
  source.onerror = function () {
    status.textContent = "Live feed interrupted; reconnecting…";
  };
  function show(event) {
    var c = JSON.parse(event.data);
    var item = document.createElement("li");
    var badge = document.createElement("span");
    badge.className = "badge badge-" + c.outcome;
    badge.textContent = c.outcome + (c.exit_code === null ? "" : " (exit " + c.exit_code + ")");
    var host = document.createElement("strong");
    host.textContent = c.host || "—";
    var code = document.createElement("code");
    code.textContent = c.command;
    item.append(badge, " " + c.at + " ", host, " ", code);
    if (c.reason) {
      var why = document.createElement("span");
      why.className = "muted";
      why.textContent = c.reason;
      item.append(" ", why);
    }
    list.insertBefore(item, list.firstChild);
    while (list.children.length > 50) {
      list.removeChild(list.lastChild);
    }
    var empty = document.getElementById("feed-empty");
    if (empty) {
      empty.remove();
    }
  }
  // A recorded command, and a command a pre-check stopped or warned about before it ran.
  source.addEventListener("command", show);
  source.addEventListener("verdict", show);
})();
