// The weekly review: a deal may sit in several sections. After an action on one row, the
// server answers with that row and triggers "review:changed"; the other copies of the deal
// fetch themselves again, so none of them keeps a stale version.
(function () {
  "use strict";

  document.addEventListener("review:changed", function (evt) {
    var detail = evt.detail || {};
    var rows = document.querySelectorAll(".review-row[data-deal]");
    rows.forEach(function (row) {
      if (row.dataset.deal !== String(detail.deal) || row.id === detail.row) return;
      window.htmx.ajax("GET", row.dataset.url, { target: row, swap: "outerHTML" });
    });
  });

  // An action's form opened in a row: start typing in its first field.
  document.addEventListener("htmx:afterSettle", function (evt) {
    var row = evt.target;
    if (!row || !row.classList || !row.classList.contains("review-row")) return;
    var field = row.querySelector(".review-panel input:not([type=hidden]), .review-panel select");
    if (field) field.focus();
  });
})();
