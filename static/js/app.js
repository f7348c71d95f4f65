/* KMP: tiny progressive enhancement, no framework. */
(function () {
  "use strict";
  // A form submitted while offline is not lost: keep what was typed and say it was not sent.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (navigator.onLine !== false) return;
    if (onlineOnly(form)) {
      event.preventDefault();
      showNote(form, form.getAttribute("data-offline-message") || note("data-online-only-note",
        "Tidak ada koneksi. Pembayaran dan suara hanya bisa dikirim saat online."));
      return;
    }
    event.preventDefault();
    try {
      var data = {};
      new FormData(form).forEach(function (v, k) { if (k !== "csrf_token" && k.indexOf("password") < 0) data[k] = v; });
      sessionStorage.setItem("kmp-draft:" + location.pathname, JSON.stringify(data));
    } catch (e) { /* storage full or disabled */ }
    showNote(form, note("data-form-offline-note", "Tidak ada koneksi: formulir BELUM terkirim. " +
      "Isian Anda disimpan di HP ini. Kirim lagi saat sinyal kembali."));
  });
  // Payments and votes need the server's answer: never kept for later (data-online-only, or
  // an action under a URL prefix the service worker never caches, see kmp/pwa.py).
  function onlineOnly(form) {
    if (form.hasAttribute("data-online-only")) return true;
    var action = new URL(form.getAttribute("action") || location.href, location.href).pathname;
    return (document.body.getAttribute("data-no-offline") || "").split(" ").some(function (p) {
      return p && action.indexOf(p) === 0;
    });
  }
  function note(name, fallback) { return document.body.getAttribute(name) || fallback; }
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
  // Votes: the first tap shows the choice and a "send" button (.vote-confirm).
  document.addEventListener("click", function (event) {
    var change = event.target.closest("form[data-vote-confirm] [data-testid=vote-change]");
    if (change) {
      var back = change.form.querySelector(".vote-confirm");
      back.hidden = true;
      var pressed = change.form.querySelector('.vote-options [aria-pressed="true"]');
      if (pressed) pressed.focus();
      return;
    }
    var choice = event.target.closest("form[data-vote-confirm] .vote-options button[name=option]");
    if (!choice) return;
    var box = choice.form.querySelector(".vote-confirm");
    if (!box) return;
    event.preventDefault();
    box.querySelector("[data-testid=vote-chosen]").textContent = choice.textContent.replace(/^\W+/, "").trim();
    var send = box.querySelector("[data-testid=vote-confirm]");
    send.value = choice.value;
    choice.form.querySelectorAll(".vote-options button").forEach(function (b) {
      b.setAttribute("aria-pressed", b === choice ? "true" : "false");
    });
    box.hidden = false;
    send.focus();
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
  // A table wider than the screen scrolls inside its .table-wrap: make that box reachable by
  // keyboard (and named after the table's caption) so it can be scrolled without a mouse.
  function scrollableTables() {
    document.querySelectorAll(".table-wrap").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        if (!box.hasAttribute("tabindex")) box.setAttribute("tabindex", "0");
        var caption = box.querySelector("caption");
        if (caption && !box.hasAttribute("aria-label")) {
          box.setAttribute("role", "region");
          box.setAttribute("aria-label", caption.textContent.trim());
        }
      } else if (box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
      }
    });
  }
  // Phones: tables as stacked rows, cells labelled by column (CSS table.stack).
  function stackTables() {
    document.querySelectorAll("main table:not(.no-stack)").forEach(function (table) {
      if (table.classList.contains("stack")) return;
      var labels = [];
      var head = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
      if (head) {
        Array.prototype.forEach.call(head.cells, function (cell) {
          for (var i = 0; i < (cell.colSpan || 1); i++) labels.push(cell.textContent.trim());
        });
      }
      table.setAttribute("role", "table");
      Array.prototype.forEach.call(table.rows, function (row) {
        row.setAttribute("role", "row");
        var col = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          var inHead = row.parentNode === table.tHead;
          cell.setAttribute("role", inHead ? "columnheader" : (cell.tagName === "TH" ? "rowheader" : "cell"));
          if (!inHead && !cell.hasAttribute("data-label") && labels[col] && (cell.colSpan || 1) === 1) {
            cell.setAttribute("data-label", labels[col]);
          }
          col += cell.colSpan || 1;
        });
      });
      table.querySelectorAll("thead,tbody,tfoot").forEach(function (g) { g.setAttribute("role", "rowgroup"); });
      table.classList.add("stack");
    });
  }
  // Field errors: one focused summary at the top, each a link to its field.
  function errorSummary() {
    var main = document.getElementById("main");
    var errors = main ? main.querySelectorAll("form .field.has-error .error[id], form .choices.has-error .error[id]") : [];
    if (!errors.length || document.getElementById("kmp-error-summary")) return;
    var en = (document.documentElement.lang || "id").indexOf("en") === 0;
    var box = document.createElement("div");
    box.id = "kmp-error-summary"; box.className = "error-summary"; box.setAttribute("role", "alert");
    box.setAttribute("tabindex", "-1"); box.setAttribute("data-testid", "error-summary");
    var title = document.createElement("h2");
    title.textContent = en ? "Please correct the following (" + errors.length + "):" : "Periksa isian berikut (" + errors.length + "):";
    box.appendChild(title);
    var list = document.createElement("ul");
    Array.prototype.forEach.call(errors, function (error) {
      var field = error.closest(".field");
      var input = field.querySelector("input:not([type=hidden]), select, textarea");
      var label = field.querySelector("legend, label");
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = "#" + (input && input.id ? input.id : field.id || "");
      link.textContent = (label ? label.textContent.trim().replace(/[*:]+$/, "") + ": " : "") + error.textContent.trim();
      link.addEventListener("click", function (event) {
        if (input) { event.preventDefault(); input.focus(); }
      });
      item.appendChild(link); list.appendChild(item);
    });
    box.appendChild(list);
    var flashes = main.querySelector(".flashes");
    if (flashes) flashes.after(box); else main.prepend(box);
    box.focus();
  }
  errorSummary();
  stackTables();
  scrollableTables();
  window.addEventListener("resize", scrollableTables);
  // Share a receipt or slip through the phone's share sheet (Web Share API). Opt in with
  // data-share (+ data-share-title/-text/-url/-file); hidden where the browser cannot share.
  if (typeof navigator.share === "function") {
    document.querySelectorAll("[data-share]").forEach(function (el) { el.hidden = false; });
    document.addEventListener("click", function (event) {
      var el = event.target.closest("[data-share]");
      if (!el) return;
      event.preventDefault();
      var data = { title: el.getAttribute("data-share-title") || document.title,
        text: el.getAttribute("data-share-text") || undefined,
        url: el.getAttribute("data-share-url") || location.href };
      var file = el.getAttribute("data-share-file");
      var ready = Promise.resolve(data);
      if (file && typeof navigator.canShare === "function") {
        ready = fetch(file, { credentials: "same-origin" }).then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.blob();
        }).then(function (blob) {
          var name = file.split("?")[0].split("/").pop() || "kmp";
          var files = [new File([blob], name, { type: blob.type })];
          return navigator.canShare({ files: files }) ? { title: data.title, text: data.text, files: files } : data;
        }).catch(function () { return data; });
      }
      ready.then(function (payload) { return navigator.share(payload); }).catch(function (error) {
        if (error && error.name === "AbortError") return;  // the member closed the share sheet
        var form = el.closest("p") || el.parentNode;
        var msg = form.querySelector(".offline-note");
        if (!msg) { msg = document.createElement("span"); msg.className = "offline-note"; msg.setAttribute("role", "alert"); form.appendChild(msg); }
        msg.textContent = note("data-share-failed-note", "Gagal membagikan.");
      });
    });
  }
  if ("serviceWorker" in navigator && document.documentElement.dataset.sw !== "off") {
    var sw = document.querySelector('link[rel="kmp-sw"]');
    if (sw) navigator.serviceWorker.register(sw.getAttribute("href")).catch(function () {});
  }
})();
