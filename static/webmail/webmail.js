/* Webmail behaviour: keyboard, selection, menu. Pages work without it; this makes them quicker
   to use. No libraries. (Compose: static/webmail/compose.js.) */
(function () {
  "use strict";
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function csrf() { var i = $("input[name=csrfmiddlewaretoken]"); return i ? i.value : ""; }
  function icon(name) {  // the design system's SVG icon (static/icons/sprite.svg), decorative
    var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg"), use = document.createElementNS(ns, "use");
    svg.setAttribute("class", "icon icon-" + name); svg.setAttribute("aria-hidden", "true"); svg.setAttribute("focusable", "false");
    use.setAttribute("href", document.body.getAttribute("data-icons") + "#" + name); svg.appendChild(use);
    return svg;
  }
  function typing(e) { var t = e.target; return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)); }

  // (The phone menu is the design system's [data-menu-toggle], static/ds/ds.js.)

  // Confirmations
  $all("[data-confirm]").forEach(function (b) {
    b.addEventListener("click", function (e) { if (!window.confirm(b.getAttribute("data-confirm"))) e.preventDefault(); });
  });

  // Message list: selection, row click, keyboard
  var list = $("[data-list]");
  if (list) {
    var rows = $all(".wm-row", list);
    var current = -1;
    var all = $("[data-select-all]", list);
    if (all) all.addEventListener("change", function () { $all("input[name=uid]", list).forEach(function (c) { c.checked = all.checked; }); });
    rows.forEach(function (row, i) {
      row.addEventListener("click", function (e) {
        if (e.target.tagName === "INPUT" || e.target.tagName === "A") return;
        window.location.href = row.getAttribute("data-href");
      });
    });
    function focusRow(i) {
      if (!rows.length) return;
      current = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach(function (r) { r.classList.remove("active"); });
      rows[current].classList.add("active");
      var a = $("a.subject", rows[current]); if (a) a.focus();
    }
    function submitAction(action) {
      var sel = $all("input[name=uid]:checked", list);
      if (!sel.length && current >= 0) $("input[name=uid]", rows[current]).checked = true;
      var input = document.createElement("input");
      input.type = "hidden"; input.name = "action"; input.value = action; list.appendChild(input); list.submit();
    }
    document.addEventListener("keydown", function (e) {
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      var k = e.key;
      if (k === "j" || k === "ArrowDown") { focusRow(current + 1); e.preventDefault(); }
      else if (k === "k" || k === "ArrowUp") { focusRow(current - 1); e.preventDefault(); }
      else if (k === "Enter" && current >= 0) { window.location.href = rows[current].getAttribute("data-href"); }
      else if (k === "x" && current >= 0) { var c = $("input[name=uid]", rows[current]); c.checked = !c.checked; }
      else if (k === "#" || k === "Delete") { submitAction("delete"); }
      else if (k === "u") { submitAction("unread"); }
      else if (k === "s") { submitAction("flag"); }
      else if (k === "/") { var s = $("[data-search]"); if (s) { s.focus(); e.preventDefault(); } }
      else if (k === "c") { var c2 = $(".wm-compose"); if (c2) window.location.href = c2.href; }
      else if (k === "n") { var n = $("[data-next]"); if (n) window.location.href = n.href; }
      else if (k === "p") { var p = $("[data-prev]"); if (p) window.location.href = p.href; }
    });
  }

  // Message page: keys for reply, forward, next/previous
  var msg = $("[data-message]");
  if (msg) {
    document.addEventListener("keydown", function (e) {
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      var target = $("[data-key=\"" + e.key + "\"]", msg);
      if (target) { e.preventDefault(); target.click(); return; }
      if (e.key === "j") { var n = $("[data-next]", msg); if (n) window.location.href = n.href; }
      else if (e.key === "k") { var p = $("[data-prev]", msg); if (p) window.location.href = p.href; }
      else if (e.key === "Escape" || e.key === "Backspace") { var b = $("[data-back]", msg); if (b) window.location.href = b.href; }
      else if (e.key === "c") { var c = $(".wm-compose"); if (c) window.location.href = c.href; }
    });
  }
  // Compose: static/webmail/compose.js (loaded by the compose page only).
})();
