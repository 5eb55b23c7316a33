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
    // Reading pane (wide screens): a row opens in the pane beside the list, the address bar
    // follows (pushState), Back returns to the list. Without JavaScript, or on narrower
    // screens, the links open the message page itself.
    var split = $("[data-split]"), pane = $("[data-pane]"), paneEmpty = pane ? pane.innerHTML : "";
    var wideQuery = window.matchMedia ? window.matchMedia("(min-width: 1024px)") : null;
    if (split && pane && window.fetch && window.history && window.history.pushState) split.classList.add("has-pane");
    function paneOn() { return split && split.classList.contains("has-pane") && wideQuery && wideQuery.matches; }
    var listHref = window.location.href, loading = 0;
    function markRead(row) {
      var n = parseInt(row.getAttribute("data-unseen") || "0", 10);
      if (!n) return;
      row.setAttribute("data-unseen", "0"); row.classList.remove("unread");
      var mark = $(".mark-unread", row); if (mark) mark.parentNode.removeChild(mark);
      var count = $(".wm-folders [aria-current=page] .count");
      if (!count) return;
      var left = Math.max(0, parseInt(count.getAttribute("data-unseen"), 10) - n);
      count.setAttribute("data-unseen", left);
      count.lastChild.textContent = left;
      if (!left) count.hidden = true;
      var link = count.closest("a");
      if (link && link.getAttribute("data-folder") === "INBOX") {
        document.title = document.title.replace(/^\(\d+\) /, left ? "(" + left + ") " : "");
      }
    }
    function openInPane(href, push, row) {
      var ticket = ++loading;
      split.classList.add("reading");
      pane.setAttribute("aria-busy", "true");
      fetch(href + (href.indexOf("?") < 0 ? "?" : "&") + "pane=1", { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) {
          if (ticket !== loading) return;
          pane.innerHTML = html;  // our own page's fragment, rendered (and escaped) by the server
          pane.removeAttribute("aria-busy");
          pane.scrollTop = 0;
          if (push) window.history.pushState({ pane: href }, "", href);
          if (row) markRead(row);
          $all("[data-confirm]", pane).forEach(function (b) {
            b.addEventListener("click", function (e) { if (!window.confirm(b.getAttribute("data-confirm"))) e.preventDefault(); });
          });
        })
        .catch(function () { if (ticket === loading) window.location.href = href; });
    }
    window.addEventListener("popstate", function (e) {
      if (!split || !pane) return;
      if (e.state && e.state.pane) { openInPane(e.state.pane, false, null); }
      else if (window.location.href === listHref) { loading++; pane.innerHTML = paneEmpty; split.classList.remove("reading"); }
      else { window.location.reload(); }
    });
    if (pane) {
      pane.addEventListener("click", function (e) {  // newer/older message inside the pane
        var a = e.target.closest && e.target.closest("a[data-prev], a[data-next]");
        if (!a || !paneOn() || e.ctrlKey || e.metaKey || e.shiftKey) return;
        e.preventDefault();
        var row = $(".wm-row[data-href=\"" + a.getAttribute("href") + "\"]", list);
        if (row) focusRow(rows.indexOf(row));
        openInPane(a.getAttribute("href"), true, row);
      });
    }
    function open(row) {
      var href = row.getAttribute("data-href");
      if (paneOn()) openInPane(href, true, row); else window.location.href = href;
    }
    rows.forEach(function (row, i) {
      row.addEventListener("click", function (e) {
        if (e.target.tagName === "INPUT") return;
        if (e.target.tagName === "A" && (!paneOn() || e.ctrlKey || e.metaKey || e.shiftKey || e.button)) return;
        e.preventDefault();
        current = i; rows.forEach(function (r) { r.classList.remove("active"); }); row.classList.add("active");
        open(row);
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
      else if (k === "Enter" && current >= 0) { e.preventDefault(); open(rows[current]); }
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
