/* Webmail behaviour: keyboard, selection, menu, compose (autosave, uploads with progress,
   address suggestions). Pages work without it; this makes them quicker to use. No libraries. */
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

  // Compose
  var form = $("[data-compose]");
  if (form) {
    var strings = $("#wm-strings").content;
    function str(name) { var s = strings.querySelector("[data-" + name + "]"); return s ? s.textContent : ""; }
    var status = $("[data-autosave-status]", form);
    var dirty = false, saving = false, sending = false;
    function fields() {
      var data = new FormData();
      ["to", "cc", "bcc", "subject", "body"].forEach(function (n) { data.append(n, form.elements[n].value); });
      data.append("csrfmiddlewaretoken", csrf());
      return data;
    }
    function save() {
      if (!dirty || saving || sending) return;
      saving = true; dirty = false; status.textContent = str("saving");
      fetch(form.getAttribute("data-autosave"), { method: "POST", body: fields(), credentials: "same-origin",
        headers: { "X-CSRFToken": csrf(), "Accept": "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function () { status.textContent = str("saved"); form.setAttribute("data-saved", "1"); })
        .catch(function () { dirty = true; status.textContent = ""; })
        .then(function () { saving = false; });
    }
    form.addEventListener("input", function (e) { if (e.target.type !== "file") { dirty = true; } });
    window.setInterval(save, 3000);
    form.addEventListener("submit", function () { sending = true; });
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") save(); });

    // Uploads with progress (the form still posts files itself without JavaScript)
    var fileInput = $("[data-file]", form), progress = $("[data-progress]", form), upErr = $("[data-upload-error]", form);
    var listEl = $("[data-attachments]", form);
    fileInput.addEventListener("change", function () {
      if (!fileInput.files.length) return;
      var data = new FormData();
      for (var i = 0; i < fileInput.files.length; i++) data.append("file", fileInput.files[i]);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("data-upload"));
      xhr.setRequestHeader("X-CSRFToken", csrf());
      xhr.setRequestHeader("Accept", "application/json");
      progress.hidden = false; progress.value = 0; upErr.hidden = true;
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) progress.value = Math.round(100 * e.loaded / e.total); };
      xhr.onload = function () {
        progress.hidden = true;
        var body = {}; try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
        (body.attachments || []).forEach(function (a) {
          var li = document.createElement("li"); li.setAttribute("data-aid", a.id);
          li.appendChild(icon("paperclip")); li.appendChild(document.createTextNode(" "));
          var name = document.createElement("span"); name.className = "name"; name.textContent = a.name; li.appendChild(name);
          var size = document.createElement("span"); size.className = "muted"; size.textContent = " " + Math.ceil(a.size / 1024) + " KB"; li.appendChild(size);
          listEl.appendChild(li);
        });
        if (xhr.status >= 400) { upErr.textContent = body.error || str("too-big"); upErr.hidden = false; }
        fileInput.value = ""; dirty = true;
      };
      xhr.onerror = function () { progress.hidden = true; upErr.textContent = "!"; upErr.hidden = false; };
      xhr.send(data);
    });

    // Address suggestions from past recipients
    $all("[data-addresses]", form).forEach(function (input) {
      var box = document.createElement("ul"); box.className = "wm-suggest"; box.hidden = true; box.setAttribute("role", "listbox");
      input.parentNode.style.position = "relative"; input.parentNode.appendChild(box);
      var items = [], sel = -1, timer = null;
      function lastPart() { var v = input.value; var i = v.lastIndexOf(","); return v.slice(i + 1).trim(); }
      function choose(i) {
        var v = input.value; var cut = v.lastIndexOf(",");
        var a = items[i]; var text = a.name ? a.name.replace(/[",]/g, "") + " <" + a.address + ">" : a.address;
        input.value = (cut >= 0 ? v.slice(0, cut + 1) + " " : "") + text + ", ";
        box.hidden = true; input.focus(); dirty = true;
      }
      function show() {
        box.innerHTML = "";
        items.forEach(function (a, i) {
          var li = document.createElement("li"); li.setAttribute("role", "option");
          li.setAttribute("aria-selected", i === sel ? "true" : "false");
          li.textContent = a.name ? a.name + " <" + a.address + ">" : a.address;
          li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(i); });
          box.appendChild(li);
        });
        box.hidden = !items.length;
      }
      input.addEventListener("input", function () {
        var q = lastPart(); window.clearTimeout(timer);
        if (q.length < 2) { items = []; show(); return; }
        timer = window.setTimeout(function () {
          fetch(form.getAttribute("data-suggest") + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
            .then(function (r) { return r.json(); }).then(function (d) { items = d.results || []; sel = -1; show(); });
        }, 150);
      });
      input.addEventListener("keydown", function (e) {
        if (box.hidden) return;
        if (e.key === "ArrowDown") { sel = Math.min(items.length - 1, sel + 1); show(); e.preventDefault(); }
        else if (e.key === "ArrowUp") { sel = Math.max(0, sel - 1); show(); e.preventDefault(); }
        else if ((e.key === "Enter" || e.key === "Tab") && sel >= 0) { choose(sel); e.preventDefault(); }
        else if (e.key === "Escape") { box.hidden = true; }
      });
      input.addEventListener("blur", function () { window.setTimeout(function () { box.hidden = true; }, 150); });
    });
  }
})();
