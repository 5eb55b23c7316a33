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
