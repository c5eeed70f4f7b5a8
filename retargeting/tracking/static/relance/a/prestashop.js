/*! Relance for PrestaShop 1.7 and 8: reads the front office's cart and a product page's product, and restores a reminded cart. docs/platforms.md */
(function (w, d) {
  "use strict";
  var r = w.relance;
  if (!r || !r.loaded || r.prestashop) return;
  r.prestashop = true;
  var KEY = "_relance_cart", PARAM = "relance_restore";
  var last = "", memory = "", ps = null, fetch0 = w.fetch;

  function safe(fn) {
    return function () {
      try { return fn.apply(this, arguments); } catch (e) { /* never break the shop's page */ }
    };
  }

  // One id per cart of this browser, kept while the cart lives, renewed once it is emptied;
  // stored only once the visitor may be tracked.
  function cartId() {
    var id = "";
    try { id = localStorage.getItem(KEY) || ""; } catch (e) { /* blocked */ }
    if (!id) {
      id = memory || "ps-" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
      memory = id;
      if (r.ok()) try { localStorage.setItem(KEY, id); } catch (e) { /* blocked */ }
    }
    return id;
  }

  // A product line is PRODUCT-COMBINATION (id_product, id_product_attribute; 0: none).
  function line(p) {
    return p.id_product + "-" + (p.id_product_attribute || 0);
  }

  function cartPage() {
    var url = new URL(ps.urls.pages.cart, location.href);
    url.searchParams.set("action", "show");
    return url;
  }

  var send = safe(function (c, changed) {
    var items = (c.products || []).slice(0, 50), totals = c.totals || {};
    if (!items.length && !changed && !last) return;
    var cart = {
      id: cartId(),
      currency: ps.currency && ps.currency.iso_code,
      total: (totals.total || {}).amount || 0,
      items: items.map(function (p) {
        var cover = p.cover || {};
        return {
          sku: line(p), name: p.name, price: p.price_amount, quantity: +p.quantity, url: p.url,
          image: (cover.medium || cover.large || cover.small || {}).url
        };
      })
    };
    if (items.length) {
      var link = cartPage();
      link.searchParams.set(PARAM, items.map(function (p) { return line(p) + ":" + p.quantity; }).join(","));
      cart.url = link.href;
    }
    var seen = JSON.stringify(cart);
    if (seen === last) return;
    last = seen;
    r.push(["cart", cart]);
    if (!items.length) {
      memory = "";
      try { localStorage.removeItem(KEY); } catch (e) { /* blocked */ }
    }
  });

  // The cart controller's AJAX answer carries the presented cart, as the theme's add-to-cart
  // gets it; without a product it changes nothing.
  function cartCall(query) {
    return fetch0.call(w, ps.urls.pages.cart, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8", Accept: "application/json" },
      body: "ajax=1&action=update" + query
    }).then(function (res) { return res.json(); });
  }

  var refetch = safe(function () {
    cartCall("").then(function (resp) { if (resp && resp.cart) send(resp.cart, true); }, function () { /* next change */ });
  });

  // A link of our SMS: ?relance_restore=P-C:QTY,P-C:QTY adds what the cart lacks with the
  // front office's token, then has the theme show the cart once (its updateCart event).
  var restore = safe(function (wanted) {
    var lines = wanted.split(",").slice(0, 50).map(function (part) { return part.split(":"); })
      .filter(function (l) { return l.length === 2 && /^\d{1,10}(-\d{1,10})?$/.test(l[0]) && /^\d{1,4}$/.test(l[1]) && +l[1] > 0; });
    var url = new URL(location.href);
    url.searchParams.delete(PARAM);
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
    var have = {};
    ((ps.cart || {}).products || []).forEach(function (p) { have[line(p)] = 1; });
    var missing = lines.filter(function (l) { return !have[l[0].indexOf("-") < 0 ? l[0] + "-0" : l[0]]; });
    if (!missing.length) return send(ps.cart || {}, false);
    var answer = null;
    missing.reduce(function (done, l) {
      var ids = l[0].split("-");
      return done.then(function () {
        return cartCall("&add=1&id_product=" + ids[0] + "&id_product_attribute=" + (ids[1] || 0) +
          "&qty=" + l[1] + "&token=" + encodeURIComponent(ps.static_token || ""))
          .then(function (resp) { if (resp && resp.cart) answer = resp; }, function () { /* gone: the others still come */ });
      });
    }, Promise.resolve()).then(function () {
      if (answer) ps.emit("updateCart", { reason: { linkAction: "add-to-cart", cart: answer.cart }, resp: answer });
    });
  });

  var start = safe(function () {
    if (ps || !w.prestashop || !w.prestashop.on || !fetch0) return;
    ps = w.prestashop;
    ps.on("updateCart", safe(function (e) {
      var c = e && ((e.reason && e.reason.cart) || (e.resp && e.resp.cart));
      c ? send(c, true) : refetch();
    }));
    var wanted = new URLSearchParams(location.search).get(PARAM);
    if (wanted) restore(wanted);
    else if (ps.cart) send(ps.cart, false);
    viewed();
  });

  // A product page (prestashop.page.page_name "product"): the product the theme embeds in
  // #product-details[data-product] (the presenter's embedded_attributes), its picture from
  // the page's og:image, the shop's currency.
  var viewed = safe(function () {
    var box = d.querySelector("[data-product]#product-details") || d.querySelector("#product-details[data-product]");
    if ((ps.page || {}).page_name !== "product" || !box) return;
    var p = JSON.parse(box.getAttribute("data-product")), og = d.querySelector('meta[property="og:image"]');
    var stocked = p.quantity == null ? undefined : +p.quantity > 0 || +p.allow_oosp === 1;
    r.push(["product_view", {
      id: String(p.id_product), sku: p.reference || line(p), name: p.name,
      price: Math.round(+p.price * 100) / 100, currency: ps.currency && ps.currency.iso_code,
      url: new URL(p.link || location.href, location.href).href, image: og ? og.content : undefined,
      available: stocked
    }]);
  });

  // The theme's core.js makes prestashop an event emitter; it may run after this file.
  start();
  if (!ps) w.addEventListener("load", start);
  // A cart read before the visitor consented keeps its id once they have: the next page's
  // reader then names the same cart.
  w.addEventListener("pagehide", safe(function () { if (memory && r.ok()) cartId(); }));
})(window, document);
