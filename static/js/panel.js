// Control panel: small progressive enhancements; every page works without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  // Ticking "generate a random password" empties and disables the typed password.
  document.querySelectorAll('input[name="generate_password"]').forEach((box) => {
    const form = box.form;
    const input = form && form.querySelector('input[name="password"]');
    if (!input) return;
    const sync = () => { input.disabled = box.checked; if (box.checked) input.value = ""; };
    box.addEventListener("change", sync);
    sync();
  });
});
