// Settings lists (stages, lost reasons, product areas): drag a row by its handle to reorder.
// The drop sends the whole new order; the server answers with the list's panel. A refused
// order (someone changed the list meanwhile) reloads the panel, so the page never lies.
(function () {
  "use strict";

  function ids(list) {
    return Array.prototype.map.call(list.querySelectorAll(":scope > [data-id]"), function (row) {
      return row.dataset.id;
    });
  }

  function reload(target) {
    htmx.ajax("GET", window.location.pathname, { target: target, select: target, swap: "outerHTML" });
  }

  function init(list) {
    if (list._sortable) return;
    list._sortable = Sortable.create(list, {
      handle: ".drag-handle",
      draggable: "[data-id]",
      animation: 150,
      ghostClass: "row-ghost",
      chosenClass: "row-chosen",
      onEnd: function (evt) {
        if (evt.oldIndex === evt.newIndex) return;
        var target = list.dataset.sortTarget;
        list.classList.add("is-saving");
        list.addEventListener("htmx:afterRequest", function (e) {
          if (!e.detail.successful) reload(target);
        }, { once: true });
        htmx.ajax("POST", list.dataset.sortUrl, {
          source: list, target: target, swap: "outerHTML", values: { order: ids(list) }
        });
      }
    });
  }

  htmx.onLoad(function (root) {
    var lists = [];
    if (root.matches && root.matches("[data-sort-url]")) lists.push(root);
    if (root.querySelectorAll) lists = lists.concat(Array.prototype.slice.call(root.querySelectorAll("[data-sort-url]")));
    lists.forEach(init);
  });
})();
