// The installation page: copy buttons, a confirmation before replacing the key, and the
// live list of the last events, refreshed every 5 seconds while the page is visible.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = document.getElementById(button.dataset.copy).textContent;
      if (navigator.clipboard) navigator.clipboard.writeText(text).catch(function () {});
    });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  var status = document.getElementById("live-status");
  var body = document.querySelector("#live-events tbody");
  if (!status || !body) return;
  // Each cell names its column (data-label): on a phone the table is a list of cards.
  var labels = Array.prototype.map.call(
    document.querySelectorAll("#live-events thead th"),
    function (th) { return th.textContent; }
  );
  function cell(text, index) {
    var td = document.createElement("td");
    td.textContent = text;
    td.setAttribute("data-label", labels[index] || "");
    return td;
  }
  function refresh() {
    if (document.hidden) return;
    fetch(status.dataset.feed, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        body.replaceChildren.apply(body, data.events.map(function (event) {
          var row = document.createElement("tr");
          [event.at, event.type, event.source, event.page, event.refused].forEach(function (text, index) { row.appendChild(cell(text, index)); });
          return row;
        }));
        status.textContent = data.events.length
          ? status.dataset.receiving + " " + data.events[0].ago
          : status.dataset.empty;
      })
      .catch(function () {});
  }
  setInterval(refresh, 5000);
})();
