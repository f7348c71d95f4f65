/* KMP: tiny progressive enhancement, no framework. */
(function () {
  "use strict";
  // A form submitted while offline is not lost: keep what was typed and say it was not sent.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (navigator.onLine !== false) return;
    if (form.hasAttribute("data-online-only")) {
      event.preventDefault();
      showNote(form, form.getAttribute("data-offline-message") ||
        "Tidak ada koneksi. Pembayaran dan suara hanya bisa dikirim saat online.");
      return;
    }
    event.preventDefault();
    try {
      var data = {};
      new FormData(form).forEach(function (v, k) { if (k !== "csrf_token" && k.indexOf("password") < 0) data[k] = v; });
      sessionStorage.setItem("kmp-draft:" + location.pathname, JSON.stringify(data));
    } catch (e) { /* storage full or disabled */ }
    showNote(form, "Tidak ada koneksi: formulir BELUM terkirim. Isian Anda disimpan di HP ini. Kirim lagi saat sinyal kembali.");
  });
  function showNote(form, text) {
    var note = form.querySelector(".offline-note");
    if (!note) { note = document.createElement("p"); note.className = "offline-note"; note.setAttribute("role", "alert"); form.prepend(note); }
    note.textContent = text;
  }
  // Restore a draft kept while offline.
  try {
    var draft = sessionStorage.getItem("kmp-draft:" + location.pathname);
    if (draft) {
      var values = JSON.parse(draft);
      Object.keys(values).forEach(function (name) {
        var field = document.querySelector('form [name="' + name.replace(/"/g, "") + '"]');
        if (field && field.type !== "hidden" && !field.value) field.value = values[name];
      });
      sessionStorage.removeItem("kmp-draft:" + location.pathname);
    }
  } catch (e) { /* ignore */ }
  // Confirm dangerous actions.
  document.addEventListener("click", function (event) {
    var el = event.target.closest("[data-confirm]");
    if (el && !window.confirm(el.getAttribute("data-confirm"))) event.preventDefault();
  });
  // The menu closes on a tap outside it or on Escape (focus goes back to its button).
  function closeMenu(event) {
    var menu = document.querySelector("details.menu[open]");
    if (!menu || (event.type === "click" ? menu.contains(event.target) : event.key !== "Escape")) return;
    menu.removeAttribute("open");
    if (event.type === "keydown") menu.querySelector("summary").focus();
  }
  document.addEventListener("click", closeMenu);
  document.addEventListener("keydown", closeMenu);
  // Offline, or shown the saved copy on a hanging network: say how old the data is.
  var root = document.body;
  function freshnessNote() {
    var main = document.getElementById("main");
    var note = document.getElementById("kmp-offline-note");
    var text = null;  // data-saved-copy: the service worker answered with the saved copy
    if (navigator.onLine === false) text = root.getAttribute("data-offline-note") || "Anda sedang offline.";
    else if (root.hasAttribute("data-saved-copy")) text = root.getAttribute("data-stale-note");
    if (!text) { if (note) note.hidden = true; return; }
    if (!note && main) {
      note = document.createElement("p");
      note.id = "kmp-offline-note"; note.className = "offline-note"; note.setAttribute("role", "status");
      note.setAttribute("data-testid", "offline-note");
      main.prepend(note);
    }
    if (note) { note.textContent = text; note.hidden = false; }
  }
  freshnessNote();
  ["online", "offline", "pageshow"].forEach(function (name) { window.addEventListener(name, freshnessNote); });
  if ("serviceWorker" in navigator && document.documentElement.dataset.sw !== "off") {
    var sw = document.querySelector('link[rel="kmp-sw"]');
    if (sw) navigator.serviceWorker.register(sw.getAttribute("href")).catch(function () {});
  }
})();
