/*
 * Progressive enhancement only: every page works the same without this file.
 * Loaded with <script src defer> from base.html; the Content-Security-Policy allows scripts
 * from this origin only, so nothing here may be inline, use eval or set style attributes.
 *
 * 1. The error summary of a rejected form takes focus, so screen readers announce it and
 *    keyboard users start from it; its links move focus to the field they name.
 * 2. Each password field gets a "Show password" toggle button (aria-pressed says whether it
 *    is on; its name stays the same, as ARIA asks of toggles) that switches the input between
 *    type=password and type=text. Its name, id and autocomplete never change, so password
 *    managers keep recognising it; it is a password again before the form is sent.
 */
(function () {
  "use strict";

  function focusField(target) {
    var label = document.querySelector('label[for="' + target.id + '"]');
    // The label above the field, not only the field, should come into view.
    (label || target).scrollIntoView();
    target.focus({ preventScroll: true });
  }

  function enhanceErrorSummary() {
    var summary = document.querySelector(".error-summary");
    if (!summary) {
      return;
    }
    summary.addEventListener("click", function (event) {
      var link = event.target.closest('a[href^="#"]');
      if (!link) {
        return;
      }
      var target = document.getElementById(link.getAttribute("href").slice(1));
      if (!target) {
        return;
      }
      event.preventDefault();
      focusField(target);
    });
    summary.focus();
  }

  function addPasswordToggle(input) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button--secondary password-input__toggle";
    button.setAttribute("aria-controls", input.id);
    // Seen as "Show" (narrow screens), heard as "Show password".
    var hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = " password";
    button.append("Show", hidden);

    function show(visible) {
      input.type = visible ? "text" : "password";
      button.setAttribute("aria-pressed", visible ? "true" : "false");
    }

    button.addEventListener("click", function () {
      show(input.type === "password");
    });
    if (input.form) {
      // Sent (and offered to password managers) as a password field, never as text.
      input.form.addEventListener("submit", function () {
        show(false);
      });
    }
    // A page restored from the back/forward cache starts hidden again.
    window.addEventListener("pageshow", function () {
      show(false);
    });
    show(false);
    input.insertAdjacentElement("afterend", button);
  }

  function addPasswordToggles() {
    var inputs = document.querySelectorAll('input[type="password"]');
    for (var i = 0; i < inputs.length; i += 1) {
      if (inputs[i].id) {
        addPasswordToggle(inputs[i]);
      }
    }
  }

  addPasswordToggles();
  enhanceErrorSummary();
})();
