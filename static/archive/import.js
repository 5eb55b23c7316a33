// The import wizard's progress page: polls the JSON status until the job has finished.
(function () {
  "use strict";
  const box = document.querySelector("[data-import-progress]");
  if (!box) return;
  const url = box.dataset.statusUrl;
  const bar = box.querySelector("[data-import-bar]");
  const percent = box.querySelector("[data-import-percent]");
  const state = box.querySelector("[data-import-state]");
  const error = box.querySelector("[data-import-error]");
  function show(s) {
    bar.value = s.percent;
    bar.textContent = s.percent + "%";
    percent.textContent = s.percent + "%";
    state.textContent = s.state_label;
    box.querySelectorAll("[data-import-count]").forEach((el) => {
      const key = el.dataset.importCount;
      if (key in s) el.textContent = s[key];
    });
    if (s.error) { error.textContent = s.error; error.hidden = false; }
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => r.json().then((data) => ({ ok: r.ok, data })))
      .then(({ ok, data }) => {
        if (!ok) { error.textContent = data.error || ""; error.hidden = false; return; }
        show(data);
        if (!data.finished) setTimeout(poll, 1500);
      })
      .catch(() => setTimeout(poll, 5000));
  }
  setTimeout(poll, 1000);
})();
