// The board: drag cards between and within columns with SortableJS; the server decides.
// A drop sends intent (target stage, the cards above and below, the card's version); the
// answer is the moved card, which replaces the dragged one where it was dropped (the server
// names the target), and the two columns' headers; the whole target column only when the
// card did not land where it was dropped. A refused drop puts the card back and says why.
// A drop forward out of a stage with exit criteria (or past one) first opens the criteria
// dialog from the server; its "Move" posts the move with the ticks, "Cancel" (or Escape)
// puts the card back where it was.
(function () {
  "use strict";

  function isCard(el) { return el && el.classList && el.classList.contains("card"); }

  function neighbour(el, direction) {
    var node = el[direction];
    while (node && !isCard(node)) node = node[direction];
    return node;
  }

  function dealId(card) { return card.id.replace("deal-", ""); }

  // A card's move URL: its link's, unless the card names another (data-move-url).
  function moveUrl(card) {
    return card.dataset.moveUrl || card.querySelector(".card-title").getAttribute("href") + "move/";
  }

  function countCards(list) { return list.querySelectorAll(":scope > .card").length; }

  function filterValues() {
    var form = document.getElementById("board-filters");
    var values = {};
    // A repeated key (tier=A&tier=B) becomes a list, which htmx sends as repeated values.
    if (form) new FormData(form).forEach(function (value, key) {
      values[key] = key in values ? [].concat(values[key], value) : value;
    });
    return values;
  }

  function putBack(card) {
    if (card._origin && card._origin.parent) {
      card._origin.parent.insertBefore(card, card._origin.next);
    }
    card.classList.remove("is-saving");
  }

  function refreshBoard() {
    htmx.ajax("GET", window.location.href, { target: "#board", select: "#board", swap: "outerHTML" });
  }

  // The columns a forward drop leaves: from the source up to, not including, the target.
  function leavesStageWithCriteria(from, to) {
    var lists = Array.prototype.slice.call(document.querySelectorAll("#board .column-cards"));
    var start = lists.indexOf(from);
    var end = lists.indexOf(to);
    if (start < 0 || end <= start) return false;
    for (var i = start; i < end; i++) {
      if (lists[i].dataset.exitCriteria) return true;
    }
    return false;
  }

  var pending = null;  // the card waiting for the exit criteria dialog

  function askForCriteria(card, values) {
    pending = card;
    var url = moveUrl(card).replace(/move\/$/, "move-check/");
    card.addEventListener("htmx:afterRequest", function (e) {
      if (e.detail.successful) return;
      pending = null;  // refused (the toast says why): no dialog to wait for
      putBack(card);
    }, { once: true });
    htmx.ajax("GET", url + "?" + new URLSearchParams(values).toString(), {
      source: card, target: "#modal-body", swap: "innerHTML"
    });
  }

  // The dialog closed: if the move went through, the card was replaced by the server's
  // answer; if it is still on the page, the move did not happen, so it goes back.
  function onModalClose() {
    var card = pending;
    pending = null;
    if (card && card.isConnected) putBack(card);
  }

  function onStart(evt) {
    evt.item._origin = { parent: evt.from, next: evt.item.nextSibling };
  }

  function onEnd(evt) {
    var card = evt.item;
    if (evt.from === evt.to && evt.oldIndex === evt.newIndex) return;
    var above = neighbour(card, "previousElementSibling");
    var below = neighbour(card, "nextElementSibling");
    var values = filterValues();
    values.stage = evt.to.dataset.stageId;
    values.version = card.dataset.version;
    values.after = above ? dealId(above) : "";
    values.before = below ? dealId(below) : "";
    values.loaded = countCards(evt.to);
    card.classList.add("is-saving");
    if (leavesStageWithCriteria(evt.from, evt.to)) {
      askForCriteria(card, values);
      return;
    }
    card.addEventListener("htmx:afterRequest", function (e) {
      if (e.detail.successful) return;
      putBack(card);
      if (e.detail.xhr && e.detail.xhr.status === 409) refreshBoard();
    }, { once: true });
    // The server retargets its answer (HX-Retarget): the card itself, or this column.
    htmx.ajax("POST", moveUrl(card), {
      source: card, target: evt.to, swap: "innerHTML", values: values
    });
  }

  function init(list) {
    if (list._sortable) return;
    list._sortable = Sortable.create(list, {
      group: "board",
      draggable: ".card",
      filter: "button, .chip",
      preventOnFilter: false,
      animation: 150,
      delay: 180,
      delayOnTouchOnly: true,
      ghostClass: "card-ghost",
      chosenClass: "card-chosen",
      dragClass: "card-drag",
      onStart: onStart,
      onEnd: onEnd
    });
  }

  // --- the cards' buttons and shared texts ---------------------------------------------
  // Cards carry no request options or texts they all share (docs/performance.md, bytes per
  // card): the buttons' requests are sent from here, with the card's link, id, version and
  // next step, and the shared titles and labels are put on here, from the JS catalogue.

  function boardData() {
    var board = document.getElementById("board");
    return board ? board.dataset : {};
  }

  function dealPath(card) { return card.querySelector(".card-title").getAttribute("href"); }

  function stepPath(card) {
    var step = card.querySelector(".card-step[data-step]");
    return boardData().activities + step.dataset.step + "/";
  }

  function onCardButton(evt) {
    var button = evt.target.closest(".card button");
    if (!button) return;
    var card = button.closest(".card");
    var modal = { source: button, target: "#modal-body", swap: "innerHTML" };
    var fromBoard = function (extra) {
      return Object.assign(filterValues(), { from: "board" }, extra || {});
    };
    if (button.classList.contains("chip-won")) {
      htmx.ajax("POST", dealPath(card) + "won/", {
        source: button, swap: "none", values: fromBoard({ version: card.dataset.version })
      });
    } else if (button.classList.contains("chip-lost")) {
      htmx.ajax("GET", dealPath(card) + "lost/?from=board", modal);
    } else if (button.classList.contains("card-step-done")) {
      htmx.ajax("POST", stepPath(card) + "complete/", Object.assign(modal, { values: fromBoard() }));
    } else if (button.classList.contains("card-step-edit")) {
      var missing = button.closest(".card-step").classList.contains("is-missing");
      var url = missing ? dealPath(card) + "activities/new/" : stepPath(card) + "edit/";
      htmx.ajax("GET", url + "?from=board", modal);
    }
  }

  var titles = {
    // Translators: a card's tier badge's title; tier is its letter, A, B or C.
    tier: gettext("Tier %(tier)s"),
    close: gettext("Expected close date"),
    age: gettext("Days in this stage"),
    change: gettext("Change the next step"),
    done: gettext("Mark the next step as done")
  };

  function shareTexts(root) {
    var t = titles;
    if (!root.querySelectorAll) return;
    var put = function (selector, name, text) {
      root.querySelectorAll(selector).forEach(function (el) {
        if (!el.hasAttribute(name)) el.setAttribute(name, text(el));
      });
    };
    var same = function (text) { return function () { return text; }; };
    put(".card", "tabindex", same("0"));  // a card takes the keyboard's focus
    put(".card .tier", "title", function (el) { return interpolate(t.tier, { tier: el.textContent }, true); });
    put(".card-date", "title", same(t.close));
    put(".card-age", "title", same(t.age));
    put(".card-step:not(.is-missing) .card-step-edit", "title", same(t.change));
    put(".card-step-done", "title", same(t.done));
    put(".card-step-done", "aria-label", same(t.done));
    // The Won and Lost chips every card shows on hover (and always on a phone); their
    // texts are said once on #board.
    var boardEl = document.getElementById("board");
    var won = boardEl ? boardEl.dataset.titleWon : "";
    var lost = boardEl ? boardEl.dataset.titleLost : "";
    root.querySelectorAll(".card-meta").forEach(function (meta) {
      if (meta.querySelector(".card-actions")) return;
      var actions = document.createElement("div");
      actions.className = "card-actions";
      [["chip chip-won", won], ["chip chip-lost", lost]].forEach(function (c) {
        var button = document.createElement("button");
        button.className = c[0];
        button.textContent = c[1];
        actions.appendChild(button);
      });
      meta.appendChild(actions);
    });
  }

  document.addEventListener("click", onCardButton);

  var modal = document.getElementById("modal");
  if (modal) modal.addEventListener("close", onModalClose);

  htmx.onLoad(function (root) {
    shareTexts(root);
    if (root.matches && root.matches(".column-cards")) init(root);
    if (root.querySelectorAll) root.querySelectorAll(".column-cards").forEach(init);
  });
})();
