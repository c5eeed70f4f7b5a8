/*! Relance snippet: page views and carts for SMS cart reminders. docs/install-snippet.md */
(function (w, d) {
  "use strict";
  var queued = w.relance;
  // The tag is on the page twice.
  if (queued && queued.loaded) return;
  var tag = d.currentScript || d.querySelector("script[data-site]");
  if (!tag) return;
  var site = tag.getAttribute("data-site");
  var base = tag.src.replace(/\/t\.js(\?.*)?$/, "");
  var needConsent = tag.getAttribute("data-consent") === "required";
  var platform = tag.getAttribute("data-platform");
  // 13 months, as the CNIL allows.
  var COOKIE = "_relance_vid", LIFE = 395 * 864e5;
  var TOKEN = "_rl", CART = "_rc";
  // The other kinds that carry what a shopper typed, sent alone like identify.
  var ALONE = /^(back_in_stock|email_cart)$/;
  var buffer = [], waiting = [], vid = null, timer = 0, allowed = !needConsent;
  // The reminded cart (from the link's _rc), and the page's restore callbacks waiting for it.
  var restorers = [], restored;

  // Never break the shop's page (a blocked localStorage is caught the same way: {}).
  function safe(fn) {
    return function () {
      try { return fn.apply(this, arguments); } catch (e) {}
    };
  }

  function readCookie() {
    var m = d.cookie.match(/(?:^|;\s*)_relance_vid=([A-Za-z0-9_-]{16,64})/);
    return m && m[1];
  }

  function visitorId() {
    // Set on an earlier page (and mirrored then): reading the cookie is all a page pays.
    var id = readCookie();
    if (id) return id;
    var stored = null, born = Date.now();
    try { stored = JSON.parse(localStorage.getItem(COOKIE) || "null"); } catch (e) {}
    if (stored && stored.v) {
      born = stored.t || born;
      id = stored.v;
    }
    if (!id) {
      var bytes = new Uint8Array(16);
      (w.crypto || w.msCrypto).getRandomValues(bytes);
      id = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
      born = Date.now();
    }
    var left = born + LIFE - Date.now();
    if (left <= 0) return visitorIdAfterExpiry();
    // Set once with what is left of its 13 months: a visit never extends it.
    d.cookie = COOKIE + "=" + id + "; Max-Age=" + Math.floor(left / 1000) + "; Path=/; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
    try { localStorage.setItem(COOKIE, JSON.stringify({ v: id, t: born })); } catch (e) {}
    return id;
  }

  function drop() {
    try { localStorage.removeItem(COOKIE); localStorage.removeItem("_relance_cart"); } catch (e) {}
    d.cookie = COOKIE + "=; Max-Age=0; Path=/";
  }

  function visitorIdAfterExpiry() {
    drop();
    return visitorId();
  }

  // A refusal, even after a consent: nothing more is sent and the visitor id is forgotten.
  function forget() {
    allowed = false;
    buffer = [];
    waiting = [];
    vid = null;
    drop();
  }

  // done (for a call sent alone) hears the final answer: a response, or nothing.
  function post(body, attempt, done) {
    if (!w.fetch) return done ? done() : pixel(body);
    fetch(base + "/t/e", {
      method: "POST", body: body, keepalive: true, credentials: "omit", mode: "cors",
      headers: { "Content-Type": "text/plain" }
    }).then(function (r) {
      r.status >= 500 ? retry(body, attempt, done) : done && done(r);
    }, function () { retry(body, attempt, done); });
  }

  function retry(body, attempt, done) {
    // Bounded: the next page view sends what comes next.
    if (attempt >= 3) return done && done();
    var wait = 1000 * Math.pow(2, attempt) * (0.5 + Math.random());
    setTimeout(function () { post(body, attempt + 1, done); }, wait);
  }

  // What a shopper typed (a number, an address) goes in a request of its own, after what
  // came before: the collector refuses a batch whole, and a refused number must never take
  // a page view or a cart with it. The page hears the answer: the call's callback, and the
  // events relance:TYPE (and relance:error when refused) on document, bubbling to window.
  function alone(event, callback) {
    flush();
    event.ts = Date.now();
    var type = event.type;
    post(JSON.stringify({ site: site, vid: vid, events: [event] }), 0, function (r) {
      var ok = !!r && r.status < 300;
      (ok || !r ? Promise.resolve({}) : r.json()).catch(function () { return {}; }).then(function (answer) {
        var result = { ok: ok, type: type, status: r ? r.status : 0 };
        if (!ok) result.error = answer.error || (r ? "HTTP " + r.status : "no answer");
        callback && safe(callback)(result);
        tell(type, result);
        ok || tell("error", result);
      });
    });
  }

  var tell = safe(function (name, result) {
    d.dispatchEvent(new CustomEvent("relance:" + name, { detail: result, bubbles: true }));
  });

  function pixel(body) {
    JSON.parse(body).events.forEach(function (e) {
      if (e.type !== "page_view") return;
      new Image().src = base + "/t/p.gif?site=" + encodeURIComponent(site) + "&vid=" + vid +
        "&type=page_view&url=" + encodeURIComponent(e.url) + "&title=" + encodeURIComponent(e.title || "");
    });
  }

  var flush = safe(function () {
    clearTimeout(timer);
    timer = 0;
    while (allowed && buffer.length) {
      var body = JSON.stringify({ site: site, vid: vid, events: buffer.splice(0, 50) });
      var sent = false;
      if (navigator.sendBeacon) {
        try { sent = navigator.sendBeacon(base + "/t/e", body); } catch (e) { sent = false; }
      }
      // fetch(keepalive) outlives the page too; the pixel is last.
      if (!sent) post(body, 0);

    }
  });

  function add(event, now) {
    event.ts = Date.now();
    buffer.push(event);
    if (now || buffer.length >= 20) flush();
    else if (!timer) timer = setTimeout(flush, 3000);
  }

  function warn(name) {
    if (w.console) console.warn("relance: ignored " + name + " call; see docs/install-snippet.md");
  }

  function merge(target, source) {
    for (var k in source) if (Object.prototype.hasOwnProperty.call(source, k)) target[k] = source[k];
    return target;
  }

  function pageView(extra) {
    add(merge({ type: "page_view", url: location.href, title: d.title }, extra || {}));
  }

  var handle = safe(function (call) {
    var name = call && call[0], arg = (call && call[1]) || {};
    if (name === "consent") {
      if (arg.tracking === true) allowed || start();
      else if (arg.tracking === false) forget();
      return;
    }
    // Not tracking: the shopper's own cart, asked for by tapping its link. No consent needed.
    if (name === "restore") return restored ? safe(arg)(restored) : restorers.push(arg);
    if (!allowed) { waiting.push(call); return; }
    // The server refuses a batch whole, so a call that cannot be valid is dropped here.
    if (typeof arg !== "object") return warn(name);
    if (name === "page_view") pageView(arg);
    else if (name === "cart") arg.id != null && arg.items ? add({ type: "cart", cart: arg }) : warn(name);
    else if (name === "product_view") arg.id != null && arg.url ? add({ type: name, product: arg }) : warn(name);
    else if (name === "identify") arg.phone || arg.email || arg.token ? alone(merge({ type: name }, arg), call[2]) : warn(name);
    else if (ALONE.test(name)) alone(merge({ type: name }, arg), call[2]);
    else if (name === "purchase") arg.order_id != null ? add(merge({ type: "purchase" }, arg), true) : warn(name);
    else warn(name);
  });

  var start = safe(function () {
    allowed = true;
    vid = visitorId();
    // The short link's token leaves the address bar before the page view records the URL.
    var token = take(TOKEN);
    pageView();
    if (token) alone({ type: "identify", token: token });
    var earlier = waiting;
    waiting = [];
    earlier.forEach(handle);
  });

  // A parameter of ours leaves the address bar; its value is returned.
  function take(name) {
    var params = new URLSearchParams(location.search), value = params.get(name);
    if (value) {
      params.delete(name);
      var query = params.toString();
      history.replaceState(history.state, "", location.pathname + (query ? "?" + query : "") + location.hash);
    }
    return value;
  }

  // A reminder's link carries its cart (_rc): its contents go to the page's restore callbacks.
  var restore = safe(function () {
    var token = take(CART);
    token && fetch(base + "/t/cart?site=" + encodeURIComponent(site) + "&token=" + encodeURIComponent(token),
      { credentials: "omit", mode: "cors" }).then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (answer) {
        if (!answer.cart) return;
        restored = answer.cart;
        restorers.splice(0).forEach(function (fn) { safe(fn)(restored); });
      }).catch(function () {});
  });

  // The page's IAB TCF v2.2 banner: purposes 1 (store or read a cookie) and 7 (measure
  // advertising performance: which reminder brought which purchase) must both be consented.
  var tcf = safe(function () {
    w.__tcfapi && w.__tcfapi("addEventListener", 2, safe(function (tc, ok) {
      var yes = ok && tc && (tc.purpose || {}).consents || {};
      if (ok && tc.gdprApplies === false) handle(["consent", { tracking: true }]);
      else if (ok && /^(tcloaded|useractioncomplete)$/.test(tc.eventStatus)) {
        handle(["consent", { tracking: !!(yes[1] && yes[7]) }]);
      }
    }));
  });

  safe(function () {
    w.relance = { loaded: true, push: function (call) { handle(call); }, ok: function () { return allowed; } };
    restore();
    if (allowed) start();
    // Calls made before the script loaded, in their order (a queued consent included).
    Array.prototype.slice.call(queued || []).forEach(handle);
    w.__tcfapi ? tcf() : w.addEventListener("load", tcf);
    if (/^(shopify|woocommerce|prestashop)$/.test(platform)) {
      // The platform's cart reader, loaded only on the shops that ask for it.
      var reader = d.createElement("script");
      reader.async = true;
      reader.src = base + "/t/a/" + platform + ".js";
      d.head.appendChild(reader);
    }
    d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") flush(); });
    w.addEventListener("pagehide", function () { flush(); });
  })();
})(window, document);
