/* mailsuite design system behaviour, shared by every portal; every page works without it.
   - [data-menu-toggle][aria-controls]: opens and closes the controlled element (class "open").
   - <dialog class="dialog">: [data-dialog-open="id"] opens it, [data-dialog-close] closes it;
     Escape closes it (the browser's own) and focus returns to the opener. */
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var t = e.target.closest ? e.target.closest("[data-menu-toggle],[data-dialog-open],[data-dialog-close]") : null;
    if (!t) return;
    if (t.hasAttribute("data-menu-toggle")) {
      var el = document.getElementById(t.getAttribute("aria-controls"));
      if (!el) return;
      var open = el.classList.toggle("open");
      t.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) { var first = el.querySelector("a,button,input,select"); if (first) first.focus(); }
    } else if (t.hasAttribute("data-dialog-open")) {
      var d = document.getElementById(t.getAttribute("data-dialog-open"));
      if (d && d.showModal) { e.preventDefault(); d._opener = t; d.showModal(); }
    } else {
      var dlg = t.closest("dialog");
      if (dlg) { dlg.close(); if (dlg._opener) dlg._opener.focus(); }
    }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var open = document.querySelector("[data-menu-toggle][aria-expanded=true]");
    if (open) { open.click(); open.focus(); }
  });
})();

/* Progress of a long job: a [data-progress-url] element polls that JSON ({percent, state_label,
   count_label, finished}) every 1.5 s and updates its <progress data-progress-bar>,
   [data-progress-label] and [data-progress-count]; it stops when the job has finished (or the
   session ended: the page itself then shows the login on reload). */
(function () {
  "use strict";
  function poll(box) {
    var url = box.getAttribute("data-progress-url");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        var bar = box.querySelector("[data-progress-bar]");
        if (bar) { bar.value = data.percent; bar.textContent = data.percent + "%"; }
        var label = box.querySelector("[data-progress-label]");
        if (label) label.textContent = data.state_label;
        var count = box.querySelector("[data-progress-count]");
        if (count) count.textContent = data.count_label;
        if (!data.finished) setTimeout(function () { poll(box); }, 1500);
        else if (data.error) { var p = document.createElement("div"); p.className = "alert alert-error"; p.setAttribute("role", "alert"); p.textContent = data.error; box.appendChild(p); }
      })
      .catch(function () { setTimeout(function () { poll(box); }, 5000); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var boxes = document.querySelectorAll("[data-progress-url]");
    for (var i = 0; i < boxes.length; i++) poll(boxes[i]);
  });
})();
