/*! Relance for WooCommerce: reads the cart and a product page's product from the Store API and restores a reminded cart. docs/platforms.md */
(function (w, d) {
  "use strict";
  var r = w.relance;
  if (!r || !r.loaded || r.woocommerce) return;
  r.woocommerce = true;
  var api = ((w.wpApiSettings && w.wpApiSettings.root) || location.origin + "/wp-json/") + "wc/store/v1/";
  // The Store API's writes, as the block cart and checkout make them (cart/add-item,
  // cart/update-item, cart/remove-item, cart/apply-coupon... and batch).
  var CHANGE = /wc\/store\/(v1\/)?(cart\/|batch)/;
  var KEY = "_relance_cart", PARAM = "relance_restore";
  var last = "", timer = 0, fetch0 = w.fetch, memory = "";

  function safe(fn) {
    return function () {
      try { return fn.apply(this, arguments); } catch (e) { /* never break the shop's page */ }
    };
  }

  // Store API amounts are strings in minor units with the currency's number of decimals.
  function money(n, decimals) {
    var s = String(Math.round(+n || 0));
    if (!decimals) return s;
    while (s.length <= decimals) s = "0" + s;
    return s.slice(0, -decimals) + "." + s.slice(-decimals);
  }

  function cookie(name) {
    var m = d.cookie.match(new RegExp("(?:^|;\\s*)" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }

  // One id per cart of this browser, kept while the cart lives, renewed once it is emptied;
  // stored only once the visitor may be tracked.
  function cartId() {
    var id = "";
    try { id = localStorage.getItem(KEY) || ""; } catch (e) { /* blocked */ }
    if (!id) {
      id = memory || "wc-" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
      memory = id;
      if (r.ok()) try { localStorage.setItem(KEY, id); } catch (e) { /* blocked */ }
    }
    return id;
  }

  function cartPage() {
    var p = w.wc_add_to_cart_params, s = w.wcSettings;
    return (p && p.cart_url) || (s && s.storePages && s.storePages.cart && s.storePages.cart.permalink) ||
      location.origin + "/";
  }

  function get(path) {
    return fetch0.call(w, api + path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  }

  var send = safe(function (c, changed) {
    var items = (c.items || []).slice(0, 50), totals = c.totals || {};
    if (!items.length && !changed && !last) return;
    var cart = {
      id: cartId(),
      currency: totals.currency_code,
      total: money(totals.total_price, totals.currency_minor_unit),
      items: items.map(function (i) {
        var p = i.prices || {};
        return {
          sku: i.sku || String(i.id), name: i.name, quantity: i.quantity,
          price: money(p.price, p.currency_minor_unit), url: i.permalink,
          image: i.images && i.images[0] ? i.images[0].src : undefined
        };
      })
    };
    if (items.length) {
      var link = new URL(cartPage(), location.href);
      link.searchParams.set(PARAM, items.map(function (i) { return i.id + ":" + i.quantity; }).join(","));
      cart.url = link.href;
    }
    // WooCommerce's own hash of this cart: the server matches the order that has it.
    var ref = cookie("woocommerce_cart_hash");
    if (ref) cart.ref = ref;
    var seen = JSON.stringify(cart);
    if (seen === last) return;
    last = seen;
    r.push(["cart", cart]);
    if (!items.length) {
      memory = "";
      try { localStorage.removeItem(KEY); } catch (e) { /* blocked */ }
    }
  });

  var read = safe(function (changed) {
    get("cart").then(function (res) { return res.ok ? res.json() : null; })
      .then(function (c) { if (c) send(c, changed); }, function () { /* offline: next change */ });
  });

  function later() {
    clearTimeout(timer);
    timer = setTimeout(function () { read(true); }, 200);
  }

  function writes(method, url) {
    return !/^(GET|HEAD)$/i.test(method || "GET") && CHANGE.test(String(url));
  }

  // A link of our SMS: ?relance_restore=ID:QTY,ID:QTY adds what the cart lacks through the
  // Store API (the Nonce of a GET of the cart), then shows the cart once.
  var restore = safe(function (wanted) {
    var lines = wanted.split(",").slice(0, 50).map(function (part) { return part.split(":"); })
      .filter(function (l) { return l.length === 2 && /^\d{1,18}$/.test(l[0]) && /^\d{1,4}$/.test(l[1]) && +l[1] > 0; });
    var url = new URL(location.href);
    url.searchParams.delete(PARAM);
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
    if (!lines.length) return read(false);
    get("cart").then(function (res) {
      var nonce = res.headers.get("Nonce") || res.headers.get("X-WC-Store-API-Nonce");
      return res.json().then(function (c) {
        var have = {};
        (c.items || []).forEach(function (i) { have[i.id] = 1; });
        var missing = lines.filter(function (l) { return !have[l[0]]; });
        return missing.reduce(function (done, l) {
          return done.then(function () {
            return fetch0.call(w, api + "cart/add-item", {
              method: "POST", credentials: "same-origin",
              headers: { "Content-Type": "application/json", Nonce: nonce },
              body: JSON.stringify({ id: +l[0], quantity: +l[1] })
            }).then(null, function () { /* that product is gone: the others still come */ });
          });
        }, Promise.resolve()).then(function () { return missing.length; });
      });
    }).then(function (added) { added ? location.reload() : read(false); }, function () { read(false); });
  });

  // A product page: WordPress marks its body "single-product postid-ID"; the Store API's
  // products/ID gives the product as the shop sells it.
  function viewed() {
    var body = d.body, id = body && /(^|\s)single-product(\s|$)/.test(body.className) && body.className.match(/(?:^|\s)postid-(\d+)(?:\s|$)/);
    if (!id) return;
    get("products/" + id[1]).then(function (res) { return res.ok ? res.json() : null; }).then(safe(function (p) {
      var prices = (p && p.prices) || {};
      if (!p || !p.permalink) return;
      r.push(["product_view", {
        id: String(p.id), sku: p.sku || undefined, name: p.name, currency: prices.currency_code,
        price: money(prices.price, prices.currency_minor_unit), url: p.permalink,
        image: p.images && p.images[0] ? p.images[0].src : undefined, available: !!p.is_in_stock
      }]);
    }), function () { /* offline: no view */ });
  }

  if (fetch0) {
    w.fetch = function (input, init) {
      var answer = fetch0.apply(this, arguments);
      try {
        var req = typeof input === "object" && input && input.url ? input : null;
        if (writes((init && init.method) || (req && req.method), req ? req.url : input)) answer.then(later, later);
      } catch (e) { /* never break the shop's page */ }
      return answer;
    };
    var open = w.XMLHttpRequest && XMLHttpRequest.prototype.open;
    if (open) {
      XMLHttpRequest.prototype.open = function (method, url) {
        try { if (writes(method, url)) this.addEventListener("loadend", later); } catch (e) { /* idem */ }
        return open.apply(this, arguments);
      };
    }
    // The classic (shortcode) cart and the AJAX add-to-cart buttons tell jQuery.
    if (w.jQuery && d.body) w.jQuery(d.body).on("added_to_cart removed_from_cart updated_cart_totals", later);
    var wanted = new URLSearchParams(location.search).get(PARAM);
    if (wanted) restore(wanted);
    else read(false);
    viewed();
  }
  // A cart read before the visitor consented keeps its id once they have: the next page's
  // reader then names the same cart.
  w.addEventListener("pagehide", safe(function () { if (memory && r.ok()) cartId(); }));
})(window, document);
