/*! Relance: the "receive my cart by email" form (email_cart). docs/install-snippet.md */
(function (w, d) {
  "use strict";
  // Loaded by its own tag, only on the pages where the shop wants the form: t.js stays as it
  // is. The request goes through t.js's queue (relance.push), so it waits for the snippet and
  // for the visitor's cookie consent like every other call.
  var tag = d.currentScript;
  if (!tag) return;
  var attr = function (name) { return tag.getAttribute("data-" + name); };
  var lang = (attr("lang") || d.documentElement.lang || "fr").slice(0, 2).toLowerCase();
  var T = lang === "en" ? {
    title: "Get my cart by email",
    label: "Your email address",
    button: "Send me my cart",
    note: "One email with your cart, to finish on any device. No mailing list.",
    sending: "Sending…",
    ok: "Sent: your cart is on its way to your mailbox (check your spam folder too).",
    invalid: "This email address does not look right: please check it.",
    many: "Too many requests today: please try again tomorrow.",
    failed: "It could not be sent just now: please try again in a moment."
  } : {
    title: "Recevoir mon panier par email",
    label: "Votre adresse email",
    button: "Recevoir mon panier",
    note: "Un seul email avec votre panier, pour finir sur l'appareil de votre choix. Aucune inscription à une liste.",
    sending: "Envoi…",
    ok: "C'est envoyé : votre panier arrive dans votre boîte mail (pensez aux indésirables).",
    invalid: "Cette adresse email ne semble pas valide : vérifiez-la.",
    many: "Trop de demandes aujourd'hui : réessayez demain.",
    failed: "L'envoi n'a pas pu se faire : réessayez dans un instant."
  };
  // data-phones-only: nothing on a wide screen (the shopper is already at a desk).
  if (attr("phones-only") !== null && w.matchMedia && !w.matchMedia("(max-width: 767px)").matches) return;
  var uid = "relance-email-cart-" + Math.random().toString(36).slice(2, 8);

  function el(name, props, parent) {
    var node = d.createElement(name);
    for (var k in props) if (Object.prototype.hasOwnProperty.call(props, k)) node[k] = props[k];
    if (parent) parent.appendChild(node);
    return node;
  }

  if (attr("style") !== "none" && !d.getElementById("relance-email-cart-style")) {
    // Plain and overridable (every rule on a class): a 16 px field is not zoomed in on iOS,
    // a 44 px button is a comfortable tap.
    el("style", { id: "relance-email-cart-style", textContent:
      ".relance-email-cart{display:grid;gap:.5em;max-width:28em;margin:1em 0;font:inherit}" +
      ".relance-email-cart input{font-size:16px;padding:.6em;border:1px solid #767676;border-radius:4px}" +
      ".relance-email-cart button{min-height:44px;font:inherit;font-weight:600;cursor:pointer}" +
      ".relance-email-cart small{opacity:.8}" +
      ".relance-email-cart [role=status]{margin:0;min-height:1.2em}" +
      ".relance-email-cart .relance-error{color:#b00020}" }, d.head);
  }

  var form = el("form", { className: "relance-email-cart", noValidate: true });
  form.setAttribute("aria-labelledby", uid + "-title");
  el("strong", { id: uid + "-title", textContent: T.title }, form);
  el("label", { htmlFor: uid, textContent: T.label }, form);
  var input = el("input", {
    id: uid, type: "email", name: "email", autocomplete: "email", required: true,
    spellcheck: false
  }, form);
  input.setAttribute("inputmode", "email");
  input.setAttribute("autocapitalize", "off");
  input.setAttribute("aria-describedby", uid + "-note " + uid + "-message");
  var button = el("button", { type: "submit", textContent: T.button }, form);
  el("small", { id: uid + "-note", textContent: T.note }, form);
  var message = el("p", { id: uid + "-message" }, form);
  message.setAttribute("role", "status");
  var target = attr("target") && d.querySelector(attr("target"));
  target ? target.appendChild(form) : tag.parentNode.insertBefore(form, tag.nextSibling);

  var waiting = 0;
  function show(text, error) {
    message.textContent = text;
    message.className = error ? "relance-error" : "";
    error ? input.setAttribute("aria-invalid", "true") : input.removeAttribute("aria-invalid");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var email = input.value.trim();
    if (!email || !input.checkValidity()) {
      show(T.invalid, true);
      input.focus();
      return;
    }
    button.disabled = true;
    show(T.sending, false);
    // No answer (the snippet missing, or waiting for cookie consent): say so, and let the
    // shopper try again; an answer that comes later still replaces this message.
    clearTimeout(waiting);
    waiting = setTimeout(function () { button.disabled = false; show(T.failed, true); }, 15000);
    w.relance = w.relance || [];
    w.relance.push(["email_cart", { email: email }, function (result) {
      clearTimeout(waiting);
      button.disabled = false;
      if (result.ok) return show(T.ok, false);
      show(result.status === 400 ? T.invalid : result.status === 429 ? T.many : T.failed, true);
      if (result.status === 400) input.focus();
    }]);
  });
})(window, document);
