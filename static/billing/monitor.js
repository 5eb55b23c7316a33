// Monitor: asks the server for fresh figures every few seconds and swaps the tables when they
// change. No reload, no framework. Stops (and says so) when the session is no longer valid.
(function () {
  "use strict";
  var box = document.getElementById("monitor");
  if (!box || !window.fetch) { return; }
  var status = document.getElementById("monitor-status");
  var url = box.getAttribute("data-url");
  var interval = parseInt(box.getAttribute("data-interval"), 10) || 2000;
  var last = null;
  var timer = null;

  function stamp() {
    if (status) {
      status.textContent = status.getAttribute("data-label") + " " + new Date().toLocaleTimeString();
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.status === 403) {
          window.clearInterval(timer);
          if (status) { status.textContent = box.getAttribute("data-expired"); }
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data) { return; }
        if (data.html !== last) {
          if (last !== null) { box.innerHTML = data.html; }
          last = data.html;
          box.setAttribute("data-total", data.monitor.monthly_total);
        }
        stamp();
      })
      .catch(function () { /* network hiccup: the next tick tries again */ });
  }

  timer = window.setInterval(poll, interval);
  poll();
})();
