/* The teller's door scanner: the camera reads the member card's QR code (jsQR, vendored in
   static/vendor/jsqr), posts the member number, and the quorum box is refreshed by polling.
   Without a camera the typed form below works as a plain form. */
(function () {
  "use strict";
  var box = document.getElementById("scanner");
  if (!box) return;
  var video = document.getElementById("scanner-video");
  var canvas = document.getElementById("scanner-canvas");
  var status = document.getElementById("scanner-status");
  var start = document.getElementById("scanner-start");
  var form = document.getElementById("scanner-form");
  var quorum = document.getElementById("quorum");
  var last = "", lastAt = 0, busy = false;

  function show(q) {
    if (!q || !quorum) return;
    ["attending", "census", "in_hall", "online"].forEach(function (k) {
      var el = quorum.querySelector('[data-q="' + k + '"]');
      if (el) el.textContent = q[k];
    });
    var met = quorum.querySelector('[data-q="met"]');
    if (met) met.textContent = q.met ? met.dataset.yes : met.dataset.no;
  }

  function poll() {
    if (!quorum) return;
    fetch(quorum.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(show)
      .catch(function () {});
  }
  setInterval(poll, 5000);

  function send(memberNo) {
    busy = true;
    var data = new FormData(form);
    data.set("member_no", memberNo);
    fetch(box.dataset.post, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        status.textContent = answer.message || "";
        status.className = answer.ok ? "ok" : "error";
        if (answer.quorum) show(answer.quorum);
      })
      .catch(function () { status.textContent = "?"; })
      .then(function () { busy = false; });
  }

  function tick() {
    if (video.readyState === video.HAVE_ENOUGH_DATA && !busy && window.jsQR) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      var ctx = canvas.getContext("2d");
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      var image = ctx.getImageData(0, 0, canvas.width, canvas.height);
      var code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      var now = Date.now();
      if (code && code.data && (code.data !== last || now - lastAt > 5000)) {
        last = code.data; lastAt = now;
        send(code.data.trim());
      }
    }
    requestAnimationFrame(tick);
  }

  start.addEventListener("click", function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = start.dataset.noCamera;
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } })
      .then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        start.hidden = true;
        video.play();
        requestAnimationFrame(tick);
      })
      .catch(function () { status.textContent = start.dataset.noCamera; });
  });
})();
