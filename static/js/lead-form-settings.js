// A lead form's settings page: copy buttons for the address and the snippets, and only the
// details of the chosen owner rule shown (all of them stay visible without JavaScript).
(function () {
  "use strict";

  function copy(button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source) return;
    var done = function () {
      var label = button.textContent;
      button.textContent = gettext("Copied");
      button.classList.add("is-copied");
      window.setTimeout(function () {
        button.textContent = label;
        button.classList.remove("is-copied");
      }, 1600);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(done, function () {
        source.select();
      });
    } else {
      source.select();
      if (document.execCommand && document.execCommand("copy")) done();
    }
  }

  function showOwnerDetails(section) {
    var checked = section.querySelector("input[name=owner_rule]:checked");
    var rule = checked ? checked.value : "";
    section.querySelectorAll("[data-owner-detail]").forEach(function (detail) {
      detail.hidden = detail.dataset.ownerDetail !== rule;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () { copy(button); });
    });
    var section = document.querySelector("[data-owner-rule]");
    if (section) {
      showOwnerDetails(section);
      section.addEventListener("change", function (evt) {
        if (evt.target.name === "owner_rule") showOwnerDetails(section);
      });
    }
  });
})();
