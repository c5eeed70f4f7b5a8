// The flow editor's live SMS preview, under every step's text in the admin: the text with
// sample data, its segments and encoding, the characters that force UCS-2 highlighted, the
// transliteration it would take, the cost, the opt-out mention that applies, the errors; and a
// test send to one's own number. For a step that may go by email (channel "email" or "SMS, else
// email"), the email itself: its subject, and its HTML in sandboxed frames at a computer's and a
// phone's widths (1280 and 390 px, scaled down to fit).
// Everything is computed by the server (POST /dashboard/preview), with the rules that send.
function relanceFlowEditor() {
  "use strict";
  var meta = document.querySelector('meta[name="relance-preview"]');
  var form = document.querySelector("#content-main form");
  if (!meta || !form) return;
  var timers = new WeakMap();

  function field(name) { return form.querySelector('[name="' + name + '"]'); }
  function sibling(textarea, name) {
    return field(textarea.name.replace(/template$/, "") + name);
  }
  function isTemplate(element) {
    return element && element.tagName === "TEXTAREA" && /(^|-)template$/.test(element.name) &&
      !/__prefix__/.test(element.name);
  }
  function payload(textarea) {
    var data = new FormData();
    data.append("csrfmiddlewaretoken", field("csrfmiddlewaretoken").value);
    data.append("template", textarea.value);
    ["discount_mode", "discount_code", "channel", "subject", "email_template"].forEach(function (name) {
      var input = sibling(textarea, name);
      if (input) data.append(name, input.value);
    });
    var stepId = sibling(textarea, "id");
    if (stepId && stepId.value) data.append("step", stepId.value);
    var flow = meta.dataset.flow || (field("flow") && field("flow").value) || "";
    if (flow) data.append("flow", flow);
    if (field("site")) data.append("site", field("site").value);
    if (field("trigger")) data.append("trigger", field("trigger").value);
    var transliterate = field("transliterate");
    if (transliterate) data.append("transliterate", transliterate.checked ? "true" : "false");
    if (field("max_segments")) data.append("max_segments", field("max_segments").value);
    return data;
  }
  function box(textarea) {
    var existing = textarea.parentNode.querySelector(".relance-preview");
    if (existing) return existing;
    var element = document.createElement("div");
    element.className = "relance-preview";
    element.setAttribute("aria-live", "polite");
    textarea.insertAdjacentElement("afterend", element);
    return element;
  }
  function add(parent, tag, className, text) {
    var element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    parent.appendChild(element);
    return element;
  }
  function highlighted(parent, text, characters) {
    var forcing = new Set(characters);
    Array.from(text).forEach(function (character) {
      if (forcing.has(character)) add(parent, "mark", "", character);
      else parent.appendChild(document.createTextNode(character));
    });
  }
  // The email in frames with no scripts and no origin of their own (sandbox=""): its HTML is
  // ours, escaped, but a preview never runs anything.
  var EMAIL_VIEWS = [["desktop", 1280, 0.5], ["phone", 390, 0.75]];
  var EMAIL_HEIGHT = 760;
  function showEmail(element, data) {
    if (!data.email) return;
    var section = add(element, "section", "relance-email");
    if (data.language) section.lang = data.language;
    add(section, "div", "relance-label", data.labels.email);
    if (data.email.errors.length) {
      var list = add(section, "ul", "errorlist");
      data.email.errors.forEach(function (error) { add(list, "li", "", error); });
      return;
    }
    var subject = add(section, "p", "relance-subject");
    add(subject, "strong", "", data.labels.subject + " ");
    subject.appendChild(document.createTextNode(data.email.subject));
    var frames = add(section, "div", "relance-email-frames");
    // Scaled down to fit the column the editor has (a phone's screen, for a member on one).
    var available = frames.clientWidth || 640;
    EMAIL_VIEWS.forEach(function (view) {
      var caption = data.labels["on_" + view[0]];
      var scale = Math.min(view[2], available / view[1]);
      var figure = add(frames, "figure", "relance-email-view relance-email-" + view[0]);
      add(figure, "figcaption", "relance-label", caption);
      var holder = add(figure, "div", "relance-frame");
      holder.style.width = Math.floor(view[1] * scale) + "px";
      holder.style.height = Math.floor(EMAIL_HEIGHT * scale) + "px";
      var frame = document.createElement("iframe");
      frame.setAttribute("sandbox", "");
      frame.setAttribute("title", caption);
      frame.setAttribute("width", String(view[1]));
      frame.setAttribute("height", String(EMAIL_HEIGHT));
      frame.style.transform = "scale(" + scale + ")";
      frame.srcdoc = data.email.html;
      holder.appendChild(frame);
    });
  }
  function show(textarea, data) {
    var element = box(textarea);
    element.replaceChildren();
    if (data.errors && data.errors.length) {
      var list = add(element, "ul", "errorlist");
      data.errors.forEach(function (error) { add(list, "li", "", error); });
    }
    if (!data.sample) { showEmail(element, data); return; }
    add(element, "div", "relance-label", data.labels.sample);
    var sms = add(element, "div", "relance-sms");
    if (data.language) sms.lang = data.language;  // the shop's text, in the shop's language
    highlighted(sms, data.sample.text, data.sample.ucs2_characters);
    add(element, "p", "relance-facts", data.summary);
    if (data.advice) add(element, "p", "relance-advice", data.advice);
    // Which opt-out mention this site's sender needs: a reply, or the one-tap link.
    if (data.mention_html) add(element, "p", "relance-mention").innerHTML = data.mention_html;
    else if (data.mention_summary) add(element, "p", "relance-mention", data.mention_summary);
    showEmail(element, data);
    var test = add(element, "div", "relance-test");
    var phone = add(test, "input");
    phone.type = "tel";
    phone.autocomplete = "tel";
    phone.placeholder = data.labels.phone;
    phone.setAttribute("aria-label", data.labels.phone);
    phone.value = data.test_phone || "";
    var button = add(test, "button", "button", data.labels.test);
    button.type = "button";
    var result = add(test, "span", "relance-result");
    var code = null;
    function ask(extra) {
      var body = payload(textarea);
      body.append("phone", phone.value);
      if (extra) body.append("code", extra);
      button.disabled = true;
      fetch(meta.dataset.testUrl, { method: "POST", body: body, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          result.textContent = answer.sent || answer.prompt || answer.error || "";
          result.className = "relance-result " + (answer.sent ? "ok" : answer.prompt ? "" : "error");
          if (answer.code_needed && !code) {
            // The first test to a number proves it is the member's: a code sent to it.
            code = add(test, "input", "relance-code");
            code.inputMode = "numeric";
            code.autocomplete = "one-time-code";
            code.setAttribute("aria-label", data.labels.code);
            code.placeholder = data.labels.code;
            var confirm = add(test, "button", "button", data.labels.confirm);
            confirm.type = "button";
            confirm.addEventListener("click", function () { ask(code.value); });
          }
        })
        .catch(function () { result.textContent = "…"; })
        .finally(function () { button.disabled = false; });
    }
    button.addEventListener("click", function () { ask(""); });
  }
  function refresh(textarea) {
    fetch(meta.content, { method: "POST", body: payload(textarea), credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) show(textarea, data); })
      .catch(function () {});
  }
  function later(textarea) {
    clearTimeout(timers.get(textarea));
    timers.set(textarea, setTimeout(function () { refresh(textarea); }, 250));
  }
  function templates() {
    return Array.from(form.querySelectorAll("textarea")).filter(isTemplate);
  }
  form.addEventListener("input", function (event) {
    if (isTemplate(event.target)) later(event.target);
    else if (event.target.closest && !event.target.closest(".relance-preview")) templates().forEach(later);
  });
  form.addEventListener("change", function (event) {
    if (!isTemplate(event.target) && !(event.target.closest && event.target.closest(".relance-preview"))) {
      templates().forEach(later);
    }
  });
  document.addEventListener("formset:added", function (event) {
    event.target.querySelectorAll("textarea").forEach(function (textarea) {
      if (isTemplate(textarea)) refresh(textarea);
    });
  });
  templates().forEach(refresh);
}
// The admin loads its form media in the page's head: start once the form exists.
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", relanceFlowEditor);
else relanceFlowEditor();
