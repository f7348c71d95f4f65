/* KMP service worker, served at /sw.js by kmp/pwa.py (fills CONFIG). Static: cache first.
   Pages: network first; the last good copy of a page is shown when the network fails or hangs,
   marked <body data-saved-copy>. Never cached: POSTs, login/logout, payments, votes. */
"use strict";
var CONFIG = /*KMP-CONFIG*/{"version":"dev","precache":[],"noOffline":["/bayar","/payments","/voting","/pemungutan"],"startUrl":"/beranda"}/*END*/;
var STATIC = "kmp-static-" + CONFIG.version;
var PAGES = "kmp-pages-v1";
var MAX_PAGES = 30;
var TIMEOUT_MS = 8000;
var NEVER = ["/masuk", "/keluar", "/bahasa"]; // + all but text/html (store)

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(STATIC)
    .then(function (cache) { return cache.addAll(CONFIG.precache); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("kmp-") === 0 && name !== STATIC && name !== PAGES;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); })
    .then(function () { return self.clients.matchAll({ type: "window" }); })
    .then(function (windows) {
      // The page open while the worker installed came without it: keep a copy now.
      return Promise.all(windows.map(function (client) {
        if (!cacheable(new URL(client.url))) return null;
        return fetch(client.url, { credentials: "same-origin" }).then(store.bind(null, client.url), function () {});
      }));
    }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method !== "GET") {
    // Never cached. Logging in or out forgets the saved pages (they are one person's).
    if (url.pathname === "/keluar" || url.pathname === "/masuk") event.waitUntil(caches.delete(PAGES));
    return;
  }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(staticFirst(request));
  } else if (request.mode === "navigate") {
    event.respondWith(page(event, request, url));
  }
});

function cacheable(url) {
  return !CONFIG.noOffline.concat(NEVER).some(function (prefix) {
    return url.pathname.indexOf(prefix) === 0;
  });
}

function staticFirst(request) {
  return caches.open(STATIC).then(function (cache) {
    return cache.match(request).then(function (hit) {
      return hit || fetch(request).then(function (response) {
        if (response.ok && new URL(request.url).searchParams.has("v")) cache.put(request, response.clone());
        return response;
      }, function (error) {
        // A saved page with an older fingerprint: any version beats no style.
        return caches.match(request, { ignoreSearch: true }).then(function (old) {
          if (old) return old;
          throw error;
        });
      });
    });
  });
}

function store(key, response) {
  if (response.status !== 200 || response.type !== "basic" || response.redirected) return null;
  if ((response.headers.get("Content-Type") || "").indexOf("text/html") !== 0) return null;
  return caches.open(PAGES).then(function (cache) {
    return cache.put(key, response).then(function () { return cache.keys(); }).then(function (keys) {
      return Promise.all(keys.slice(0, Math.max(0, keys.length - MAX_PAGES)).map(function (old) {
        return cache.delete(old);
      }));
    });
  });
}

function page(event, request, url) {
  if (!cacheable(url)) {
    var needsServer = CONFIG.noOffline.some(function (p) { return url.pathname.indexOf(p) === 0; });
    return fetch(request).catch(function () { return offlinePage(needsServer); });
  }
  var network = fetch(request).then(function (response) {
    event.waitUntil(Promise.resolve(store(request.url, response.clone())));
    return response;
  });
  network.catch(function () {}); // handled below
  return caches.open(PAGES).then(function (cache) {
    return cache.match(request.url, { ignoreVary: true });
  }).then(function (saved) {
    if (!saved) return network.catch(function () { return offlinePage(false); });
    var slow = new Promise(function (resolve) { setTimeout(resolve, TIMEOUT_MS); });
    return Promise.race([network.catch(function () {}), slow]).then(function (response) {
      return response || markSaved(saved);
    });
  });
}

function markSaved(response) {
  return response.text().then(function (html) {
    return new Response(html.replace("<body ", "<body data-saved-copy "), {
      status: response.status, headers: response.headers
    });
  });
}

function offlinePage(needsServer) {
  return caches.open(PAGES).then(function (cache) {
    return cache.keys().then(function (keys) {
      return Promise.all(keys.map(function (key) {
        return cache.match(key).then(function (r) { return r.text(); }).then(function (html) {
          var title = (/<title>([^<]*)<\/title>/.exec(html) || [])[1] || new URL(key.url).pathname;
          var href = new URL(key.url);
          return '<li><a class="tile" href="' + href.pathname + href.search + '">' + title + "</a></li>";
        });
      }));
    });
  }).then(function (links) {
    var css = CONFIG.precache.filter(function (p) { return /\.css/.test(p); })[0] || "";
    var html = '<!doctype html><html lang="id"><head><meta charset="utf-8">' +
      '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Offline · KMP</title>' +
      '<link rel="stylesheet" href="' + css + '"></head><body><main id="main" data-offline-page>' +
      '<h1>Anda sedang offline</h1><p class="offline-note" role="status">' +
      (needsServer ? "Pembayaran dan pemungutan suara hanya bisa saat online: perlu jawaban dari server. "
        : "Halaman ini belum tersimpan di HP ini. ") +
      "Coba lagi saat sinyal kembali.</p>" +
      (links.length ? '<h2>Tersimpan di HP ini</h2><ul class="tiles">' + links.join("") + "</ul>" : "") +
      '<p><a class="btn" href="' + CONFIG.startUrl + '">Beranda</a></p></main></body></html>';
    return new Response(html, {
      status: 503, headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" }
    });
  });
}
