// The phone simulator and the mailbox refresh by themselves: every few seconds the page asks
// its JSON address (data-live) for the part that may change; when its version differs, only
// that part is replaced, so a reply being typed and the reader's place stay. With
// data-stick="bottom" a reader at the end of the conversation stays at the end.
(function () {
  "use strict";
  var live = document.querySelector("[data-live]");
  if (!live || !window.fetch) return;
  var every = parseInt(live.getAttribute("data-every"), 10) || 2000;
  var version = live.getAttribute("data-version");

  function atBottom() {
    var root = document.documentElement;
    return window.innerHeight + window.scrollY >= root.scrollHeight - 48;
  }

  function show(data) {
    var lines = document.querySelectorAll("[data-next-pass]");
    for (var i = 0; i < lines.length; i++) lines[i].textContent = data.next_pass;
    if (data.version === version) return;
    var stick = live.getAttribute("data-stick") === "bottom" && atBottom();
    var x = window.scrollX, y = window.scrollY;
    live.innerHTML = data.html;
    version = data.version;
    live.setAttribute("data-version", version);
    if (stick) window.scrollTo(x, document.documentElement.scrollHeight);
    else window.scrollTo(x, y);
  }

  function poll() {
    if (document.hidden) {  // a tab in the background asks nothing
      window.setTimeout(poll, every);
      return;
    }
    fetch(live.getAttribute("data-live"), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store",
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) show(data); })
      .catch(function () { /* the server restarts: try again at the next tick */ })
      .then(function () { window.setTimeout(poll, every); });
  }

  window.setTimeout(poll, every);
})();
