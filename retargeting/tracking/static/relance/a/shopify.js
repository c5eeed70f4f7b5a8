/*! Relance for Shopify: reads the cart from /cart.js, the product of a product page from /products/HANDLE.js, and the visitor's choice from the Customer Privacy API. docs/platforms.md */
(function (w, d) {
  "use strict";
  var r = w.relance;
  if (!r || !r.loaded || r.shopify) return;
  r.shopify = true;
  var S = w.Shopify || {};
  var root = (S.routes && S.routes.root) || "/";
  // The Ajax Cart API's writes (add, change, update, clear, with or without .js); our own
  // read of /cart.js is none of them.
  var CHANGE = /\/cart\/(add|change|update|clear)(\.js)?([?#]|$)/;
  var last = "", timer = 0, read0 = w.fetch;

  function safe(fn) {
    return function () {
      try { return fn.apply(this, arguments); } catch (e) { /* never break the shop's page */ }
    };
  }

  // Shopify's amounts are in the currency's subunit (cents): 2995 is "29.95".
  function money(n) {
    var s = String(Math.round(+n || 0));
    while (s.length < 3) s = "0" + s;
    return s.slice(0, -2) + "." + s.slice(-2);
  }

  function absolute(url) {
    return url ? new URL(url, location.href).href : undefined;
  }

  var send = safe(function (c, changed) {
    var items = (c.items || []).slice(0, 50);
    // An empty cart on arrival says nothing (every visitor has one); after a change it
    // says the cart was emptied.
    if (!items.length && !changed && !last) return;
    var cart = {
      // The token without its "?key=": the cart_token of Shopify's checkouts and orders.
      id: String(c.token).split("?")[0],
      currency: c.currency,
      total: money(c.total_price),
      items: items.map(function (i) {
        return {
          sku: String(i.variant_id), name: i.product_title || i.title,
          price: money(i.final_price != null ? i.final_price : i.price), quantity: i.quantity,
          url: absolute(i.url), image: absolute(i.image)
        };
      })
    };
    // Shopify's cart permalink rebuilds this cart on any device.
    if (items.length) {
      cart.url = location.origin + "/cart/" + items.map(function (i) { return i.variant_id + ":" + i.quantity; }).join(",");
    }
    var seen = JSON.stringify(cart);
    if (seen === last) return;
    last = seen;
    r.push(["cart", cart]);
  });

  var read = safe(function (changed) {
    if (!read0) return;
    read0.call(w, root + "cart.js", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (c) { if (c) send(c, changed); }, function () { /* offline: next change */ });
  });

  function later() {
    clearTimeout(timer);
    timer = setTimeout(function () { read(true); }, 200);
  }

  // After the page's own fetch and XMLHttpRequest calls to the cart; what they return is the
  // page's, untouched.
  if (read0) {
    w.fetch = function (input) {
      var answer = read0.apply(this, arguments);
      try {
        if (CHANGE.test(typeof input === "string" ? input : (input && input.url) || String(input))) {
          answer.then(later, later);
        }
      } catch (e) { /* never break the shop's page */ }
      return answer;
    };
  }
  var open = w.XMLHttpRequest && XMLHttpRequest.prototype.open;
  if (open) {
    XMLHttpRequest.prototype.open = function (method, url) {
      try { if (CHANGE.test(String(url))) this.addEventListener("loadend", later); } catch (e) { /* idem */ }
      return open.apply(this, arguments);
    };
  }

  // Shopify's Customer Privacy API: Relance records the visit (analytics) to send a reminder
  // (marketing), so it needs both; a "no" to either is a refusal.
  var privacy = safe(function () {
    var p = S.customerPrivacy;
    if (!p) return;
    if (p.analyticsProcessingAllowed() && p.marketingAllowed()) r.push(["consent", { tracking: true }]);
    else {
      var now = (p.currentVisitorConsent && p.currentVisitorConsent()) || {};
      if (now.analytics === "no" || now.marketing === "no") r.push(["consent", { tracking: false }]);
    }
  });
  d.addEventListener("visitorConsentCollected", safe(function (e) {
    var c = e.detail || {};
    r.push(["consent", { tracking: !!(c.analyticsAllowed && c.marketingAllowed) }]);
  }));
  safe(function () {
    if (S.customerPrivacy) privacy();
    else if (S.loadFeatures) {
      S.loadFeatures([{ name: "consent-tracking-api", version: "0.1" }], function (error) { error || privacy(); });
    }
  })();

  // A product page (ShopifyAnalytics.meta.page.pageType "product", its address
  // /products/HANDLE): the product as the Ajax Product API gives it, the variant in the
  // address (?variant=) or the first one, in the visitor's currency (Shopify.currency.active,
  // else the cart's).
  var viewed = safe(function () {
    var meta = (w.ShopifyAnalytics || {}).meta || {};
    var handle = location.pathname.match(/\/products\/([^\/?#.]+)\/?$/);
    if (!read0 || !handle || (meta.page && meta.page.pageType && meta.page.pageType !== "product")) return;
    var get = function (path) {
      return read0.call(w, root + path, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (res) { return res.ok ? res.json() : null; });
    };
    var active = S.currency && S.currency.active;
    Promise.all([get("products/" + handle[1] + ".js"), active ? active : get("cart.js").then(function (c) { return c && c.currency; })])
      .then(safe(function (got) {
        var p = got[0], wanted = new URLSearchParams(location.search).get("variant");
        if (!p || !got[1]) return;
        var v = (p.variants || []).filter(function (x) { return String(x.id) === wanted; })[0] || (p.variants || [])[0] || p;
        r.push(["product_view", {
          id: String(p.id), sku: v.sku || undefined, name: p.title, price: money(v.price), currency: got[1],
          url: location.origin + root + "products/" + p.handle, image: absolute(p.featured_image),
          available: typeof v.available === "boolean" ? v.available : p.available
        }]);
      }), function () { /* offline: no view */ });
  });

  read(false);
  viewed();
})(window, document);
