/* Compose: the HTML editor (Squire, static/vendor/squire; pasted HTML cleaned by DOMPurify),
   its toolbar, images pasted, dropped or chosen (uploaded to the draft, shown from its URL,
   sent as cid: parts), attachments dragged onto the form (XHR upload with progress), autosave,
   recipient suggestions (contacts, past recipients, the domain's directory). Also the HTML
   signature editor of the settings page (textarea[data-rich]).
   Without JavaScript the page posts a plain-text message from its textarea; the server cleans
   whatever HTML it receives with the same rules as incoming mail. */
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
  var strings = $("#wm-strings");
  function str(name) { var s = strings && strings.content.querySelector("[data-" + name + "]"); return s ? s.textContent : ""; }
  var IMAGE = /^image\/(png|jpeg|gif|webp|bmp)$/;

  // DOMPurify for everything Squire inserts (pasted or dropped HTML, setHTML): no scripts, no
  // styles blocks, no forms. The server cleans again with the reading sanitiser.
  function sanitize(html) {
    var frag = window.DOMPurify.sanitize(html, {
      RETURN_DOM_FRAGMENT: true, WHOLE_DOCUMENT: false, FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select"],
      FORBID_ATTR: ["class", "id"]
    });
    return frag ? document.importNode(frag, true) : document.createDocumentFragment();
  }

  // An editor over `host` (a div), with the toolbar's buttons wired; `source`: initial HTML.
  function makeEditor(host, toolbar, source) {
    var editor = new window.Squire(host, { blockTag: "DIV", sanitizeToDOMFragment: sanitize });
    editor.setHTML(source || "");
    var buttons = {};
    $all("[data-cmd]", toolbar).forEach(function (b) {
      buttons[b.getAttribute("data-cmd")] = b;
      b.addEventListener("click", function () {
        var cmd = b.getAttribute("data-cmd"), path = editor.getPath();
        if (cmd === "bold") { editor.hasFormat("B") ? editor.removeBold() : editor.bold(); }
        else if (cmd === "italic") { editor.hasFormat("I") ? editor.removeItalic() : editor.italic(); }
        else if (cmd === "ul") { /(^|>)UL/.test(path) ? editor.removeList() : editor.makeUnorderedList(); }
        else if (cmd === "ol") { /(^|>)OL/.test(path) ? editor.removeList() : editor.makeOrderedList(); }
        else if (cmd === "quote") { /(^|>)BLOCKQUOTE/.test(path) ? editor.decreaseQuoteLevel() : editor.increaseQuoteLevel(); }
        else if (cmd === "clear") { editor.removeAllFormatting(); }
        else if (cmd === "link") {
          if (editor.hasFormat("A")) { editor.removeLink(); }
          else {
            var url = window.prompt(str("link-prompt"), "https://");
            if (url && /^(https?:\/\/|mailto:)\S+$/i.test(url.trim())) editor.makeLink(url.trim());
          }
        }
        editor.focus();
        state();
      });
    });
    function state() {
      var path = editor.getPath();
      function pressed(name, on) { if (buttons[name]) buttons[name].setAttribute("aria-pressed", on ? "true" : "false"); }
      pressed("bold", editor.hasFormat("B")); pressed("italic", editor.hasFormat("I"));
      pressed("ul", /(^|>)UL/.test(path)); pressed("ol", /(^|>)OL/.test(path)); pressed("quote", /(^|>)BLOCKQUOTE/.test(path));
    }
    editor.addEventListener("pathChange", state);
    toolbar.hidden = false;
    return editor;
  }

  // Settings: the HTML signature
  $all("textarea[data-rich]").forEach(function (area) {
    var tpl = $("#wm-editor-toolbar");
    if (!tpl || !window.Squire) return;
    var toolbar = tpl.content.firstElementChild.cloneNode(true);
    var host = document.createElement("div");
    host.className = "wm-editor wm-editor-small"; host.setAttribute("role", "textbox"); host.setAttribute("aria-multiline", "true");
    var label = area.id && $("label[for=\"" + area.id + "\"]");
    if (label) { if (!label.id) label.id = area.id + "-label"; host.setAttribute("aria-labelledby", label.id); label.addEventListener("click", function (e) { e.preventDefault(); host.focus(); }); }
    area.parentNode.insertBefore(toolbar, area);
    area.parentNode.insertBefore(host, area);
    area.hidden = true;
    var editor = makeEditor(host, toolbar, area.value);
    editor.addEventListener("input", function () { area.value = editor.getHTML(); });
    area.form.addEventListener("submit", function () { area.value = editor.getHTML(); });
  });

  var form = $("[data-compose]");
  if (!form) return;
  var status = $("[data-autosave-status]", form);
  var dirty = false, saving = false, sending = false, editor = null;
  var bodyArea = form.elements.body, htmlArea = $("[data-html]", form), format = $("[data-format]", form);

  // The HTML editor in place of the plain-text textarea
  if (window.Squire && window.DOMPurify) {
    var toolbar = $("[data-editor-toolbar]", form);
    var host = document.createElement("div");
    host.className = "wm-editor"; host.id = "body-editor"; host.setAttribute("data-editor", "");
    host.setAttribute("role", "textbox"); host.setAttribute("aria-multiline", "true"); host.setAttribute("aria-labelledby", "body-label");
    bodyArea.parentNode.insertBefore(host, bodyArea);
    bodyArea.hidden = true;
    var label = $("#body-label");
    label.removeAttribute("for");
    label.addEventListener("click", function () { editor.focus(); });
    editor = makeEditor(host, toolbar, htmlArea.value);
    format.value = "html";
    editor.addEventListener("input", function () { dirty = true; });
    // Images: pasted as files, dropped into the text, or chosen with the toolbar's button.
    editor.addEventListener("pasteImage", function (e) {
      var items = e.detail.clipboardData.items;
      for (var i = 0; i < items.length; i++) {
        if (IMAGE.test(items[i].type)) { var f = items[i].getAsFile(); if (f) inlineImage(f); }
      }
    });
    editor.addEventListener("willPaste", function (e) {
      var frag = e.detail.fragment;
      if (!frag || !frag.querySelectorAll) return;
      $all("img", frag).forEach(function (img) {
        var src = img.getAttribute("src") || "";
        if (/^data:image\//i.test(src)) {  // pasted HTML with embedded images: upload them too
          var placeholder = img;
          fetch(src).then(function (r) { return r.blob(); }).then(function (blob) {
            upload([new File([blob], "image." + (blob.type.split("/")[1] || "png"), { type: blob.type })], true, function (a) {
              var live = host.querySelector("img[src^='data:']");
              if (live) { live.setAttribute("src", a.url); dirty = true; }
            });
          });
          placeholder.setAttribute("alt", placeholder.getAttribute("alt") || "");
        } else if (src.indexOf(window.location.origin + "/") !== 0) {
          img.parentNode.removeChild(img);  // remote images would not reach the recipient
        }
      });
    });
    host.addEventListener("drop", function (e) {
      var files = e.dataTransfer && e.dataTransfer.files;
      if (!files || !files.length) return;
      e.preventDefault(); e.stopPropagation();
      var others = [];
      for (var i = 0; i < files.length; i++) { if (IMAGE.test(files[i].type)) inlineImage(files[i]); else others.push(files[i]); }
      if (others.length) upload(others, false);
    });
    var chooser = $("[data-insert-image]", form);
    if (chooser) chooser.addEventListener("change", function () {
      for (var i = 0; i < chooser.files.length; i++) inlineImage(chooser.files[i]);
      chooser.value = "";
    });
  }
  function inlineImage(file) {
    upload([file], true, function (a) { editor.insertImage(a.url, { alt: a.name }); dirty = true; });
  }
  function currentHTML() { return editor ? editor.getHTML() : htmlArea.value; }

  function fields() {
    var data = new FormData();
    ["to", "cc", "bcc", "subject", "body"].forEach(function (n) { data.append(n, form.elements[n].value); });
    data.append("html", currentHTML()); data.append("format", format.value);
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
  form.addEventListener("submit", function () { sending = true; htmlArea.value = currentHTML(); });
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") save(); });

  // Uploads with progress: attachments (chosen or dragged onto the form) and inline images
  var fileInput = $("[data-file]", form), progress = $("[data-progress]", form), upErr = $("[data-upload-error]", form);
  var listEl = $("[data-attachments]", form);
  function listed(a) {
    var li = document.createElement("li"); li.setAttribute("data-aid", a.id);
    li.appendChild(icon("paperclip")); li.appendChild(document.createTextNode(" "));
    var name = document.createElement("span"); name.className = "name"; name.textContent = a.name; li.appendChild(name);
    var size = document.createElement("span"); size.className = "muted"; size.textContent = " " + Math.ceil(a.size / 1024) + " KB"; li.appendChild(size);
    var remove = document.createElement("button"); remove.type = "button"; remove.className = "linkbtn"; remove.textContent = " " + str("remove");
    remove.addEventListener("click", function () {
      fetch(form.getAttribute("data-upload").replace(/upload\/$/, "attachment/" + a.id + "/remove/"), { method: "POST",
        credentials: "same-origin", headers: { "X-CSRFToken": csrf(), "Accept": "application/json" } })
        .then(function (r) { if (r.ok) { li.parentNode.removeChild(li); dirty = true; } });
    });
    li.appendChild(document.createTextNode(" ")); li.appendChild(remove);
    listEl.appendChild(li);
  }
  function upload(files, inline, done) {
    var data = new FormData();
    for (var i = 0; i < files.length; i++) data.append("file", files[i]);
    if (inline) data.append("inline", "1");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("data-upload"));
    xhr.setRequestHeader("X-CSRFToken", csrf());
    xhr.setRequestHeader("Accept", "application/json");
    progress.hidden = false; progress.value = 0; upErr.hidden = true; form.setAttribute("data-uploading", "1");
    xhr.upload.onprogress = function (e) { if (e.lengthComputable) progress.value = Math.round(100 * e.loaded / e.total); };
    xhr.onload = function () {
      progress.hidden = true; form.removeAttribute("data-uploading");
      var body = {}; try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
      (body.attachments || []).forEach(function (a) { if (inline) { if (done) done(a); } else listed(a); });
      if (xhr.status >= 400) { upErr.textContent = body.error || str("too-big"); upErr.hidden = false; }
      dirty = true;
    };
    xhr.onerror = function () { progress.hidden = true; form.removeAttribute("data-uploading"); upErr.textContent = str("upload-failed"); upErr.hidden = false; };
    xhr.send(data);
  }
  fileInput.addEventListener("change", function () {
    if (!fileInput.files.length) return;
    upload(fileInput.files, false);
    fileInput.value = "";
  });
  var zone = $("[data-dropzone]", form), hint = $("[data-drop-hint]", form);
  if (hint) hint.hidden = false;
  form.addEventListener("dragover", function (e) {
    if (e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types, "Files") >= 0) { e.preventDefault(); zone.classList.add("dragging"); }
  });
  form.addEventListener("dragleave", function (e) { if (e.target === form || !form.contains(e.relatedTarget)) zone.classList.remove("dragging"); });
  form.addEventListener("drop", function (e) {
    zone.classList.remove("dragging");
    var files = e.dataTransfer && e.dataTransfer.files;
    if (!files || !files.length || e.defaultPrevented) return;
    e.preventDefault();
    upload(files, false);
  });

  // Recipient suggestions: contacts, past recipients, the domain's directory
  $all("[data-addresses]", form).forEach(function (input) {
    var box = document.createElement("ul"); box.className = "wm-suggest"; box.hidden = true; box.setAttribute("role", "listbox");
    box.id = input.id + "-suggest"; input.setAttribute("aria-controls", box.id); input.setAttribute("aria-autocomplete", "list");
    input.parentNode.style.position = "relative"; input.parentNode.appendChild(box);
    var items = [], sel = -1, timer = null;
    function lastPart() { var v = input.value; var i = v.lastIndexOf(","); return v.slice(i + 1).trim(); }
    function choose(i) {
      var v = input.value; var cut = v.lastIndexOf(",");
      var a = items[i]; var text = a.name ? a.name.replace(/[",<>]/g, "") + " <" + a.address + ">" : a.address;
      input.value = (cut >= 0 ? v.slice(0, cut + 1) + " " : "") + text + ", ";
      box.hidden = true; input.focus(); dirty = true;
    }
    function show() {
      box.innerHTML = "";
      items.forEach(function (a, i) {
        var li = document.createElement("li"); li.setAttribute("role", "option"); li.id = box.id + "-" + i;
        li.setAttribute("aria-selected", i === sel ? "true" : "false");
        li.textContent = a.name ? a.name + " <" + a.address + ">" : a.address;
        if (a.source === "contact" || a.source === "directory") {
          var tag = document.createElement("span"); tag.className = "tag"; tag.textContent = str(a.source);
          li.appendChild(document.createTextNode(" ")); li.appendChild(tag);
        }
        li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(i); });
        box.appendChild(li);
      });
      box.hidden = !items.length;
      if (sel >= 0) input.setAttribute("aria-activedescendant", box.id + "-" + sel); else input.removeAttribute("aria-activedescendant");
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
})();
