// Search-as-you-type pickers (templates/crm/picker.html, crm/forms/pickers.py).
//
// The server renders a text field (the chosen record's name) and a hidden field (its id).
// This file makes the text field a WAI-ARIA combobox with a listbox popup: htmx fetches the
// options as the user types (hx-get on the field; the query is filled in below, in
// htmx:configRequest), and the keys follow the APG combobox pattern: ArrowDown/ArrowUp move
// through the options, Enter picks, Escape closes (a second Escape undoes the typing), Tab
// leaves. A mouse click or a tap picks too. Typing clears the hidden id, so a name that was
// typed but not picked is looked up by the server, which says when it finds none.
//
// A picker with data-picker-parent (a deal's contact) searches within the parent's choice
// (its company); picking a contact fills an empty company, and another company clears a
// contact who does not work there.
(function () {
  "use strict";

  function parts(root) {
    return {
      root: root,
      input: root.querySelector("[data-picker-input]"),
      value: root.querySelector("[data-picker-value]"),
      popup: root.querySelector(".picker-popup"),
      clear: root.querySelector("[data-picker-clear]"),
      status: root.querySelector("[data-picker-status]"),
    };
  }

  function rootOf(element) { return element && element.closest ? element.closest("[data-picker]") : null; }

  function options(p) {
    return Array.prototype.slice.call(p.popup.querySelectorAll("[role=option]"));
  }

  function isOpen(p) { return !p.popup.hidden; }

  function listId(p) { return p.input.id + "-listbox"; }

  function labelText(p) {
    var label = p.input.id && document.querySelector("label[for='" + p.input.id + "']");
    return label ? label.textContent.trim() : "";
  }

  // The listbox after each swap: stable ids for aria-controls and aria-activedescendant.
  function prepareList(p) {
    var list = p.popup.querySelector("[role=listbox]");
    if (!list) return;
    list.id = listId(p);
    if (labelText(p)) list.setAttribute("aria-label", labelText(p));
    options(p).forEach(function (option, index) {
      option.id = listId(p) + "-" + index;
      option.setAttribute("aria-selected", option.dataset.value === p.value.value ? "true" : "false");
    });
  }

  function syncClear(p) {
    if (p.clear) p.clear.hidden = !(p.value.value || p.input.value);
  }

  function setActive(p, option) {
    options(p).forEach(function (o) { o.classList.toggle("is-active", o === option); });
    if (option) {
      p.input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      p.input.removeAttribute("aria-activedescendant");
    }
  }

  function active(p) { return p.popup.querySelector("[role=option].is-active"); }

  function open(p) {
    if (!p.popup.querySelector("[role=option], .picker-note")) return;
    p.popup.hidden = false;
    p.input.setAttribute("aria-expanded", "true");
    p.root.classList.add("is-open");
  }

  function close(p) {
    p.popup.hidden = true;
    p.input.setAttribute("aria-expanded", "false");
    p.root.classList.remove("is-open");
    setActive(p, null);
  }

  function search(p, then) {
    p.root.pickerThen = then || null;
    p.root.pickerClosedByUser = false;
    htmx.trigger(p.input, "picker:search");
  }

  function announce(p, text) { if (p.status) p.status.textContent = text; }

  function changed(p, detail) {
    p.root.dispatchEvent(new CustomEvent("picker:change", { bubbles: true, detail: detail }));
  }

  // Choose a row (value, label, and for a contact its company as group).
  function choose(p, value, label, group, groupLabel, quiet) {
    p.value.value = value;
    p.input.value = label;
    p.root.pickerLabel = label;
    p.root.pickerChosen = value;
    if (group) p.value.dataset.pickerGroup = group; else delete p.value.dataset.pickerGroup;
    close(p);
    syncClear(p);
    if (!quiet) announce(p, label);
    changed(p, { value: value, label: label, group: group || "", groupLabel: groupLabel || "" });
  }

  function pick(p, option) {
    choose(p, option.dataset.value, option.dataset.label, option.dataset.group, option.dataset.groupLabel);
  }

  function clear(p, quiet) {
    choose(p, "", "", "", "", quiet);
    // The options listed were for the old text (or company): fetch afresh when opened.
    p.popup.innerHTML = "<ul class=\"picker-list\" role=\"listbox\"></ul>";
    prepareList(p);
  }

  function move(p, step) {
    var all = options(p);
    if (!all.length) return;
    var index = all.indexOf(active(p));
    if (index < 0) index = step > 0 ? 0 : all.length - 1;
    else index = (index + step + all.length) % all.length;
    setActive(p, all[index]);
  }

  function setup(root) {
    if (root.pickerReady) return;
    root.pickerReady = true;
    var p = parts(root);
    if (!p.input || !p.value || !p.popup) return;
    p.input.setAttribute("role", "combobox");
    p.input.setAttribute("aria-autocomplete", "list");
    p.input.setAttribute("aria-expanded", "false");
    p.input.setAttribute("aria-controls", listId(p));
    root.pickerLabel = p.value.value ? p.input.value : "";
    root.pickerChosen = p.value.value;
    root.classList.add("is-enhanced");
    prepareList(p);
    syncClear(p);
  }

  htmx.onLoad(function (element) {
    if (element.matches && element.matches("[data-picker]")) setup(element);
    if (element.querySelectorAll) element.querySelectorAll("[data-picker]").forEach(setup);
  });

  // The search's query: the typed text, and the parent's choice (a contact's company).
  document.addEventListener("htmx:configRequest", function (evt) {
    var root = rootOf(evt.detail.elt);
    if (!root || !evt.detail.elt.matches("[data-picker-input]")) return;
    evt.detail.parameters.q = evt.detail.elt.value.trim().slice(0, 100);
    var parent = parentOf(root);
    if (parent) {
      var chosen = parent.querySelector("[data-picker-value]").value;
      if (chosen) evt.detail.parameters[parent.dataset.pickerName] = chosen;
    }
  });

  // Only a list of options goes into the popup (not, say, the sign-in page after the session
  // ran out): anything else is left out and the popup stays closed.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    if (!target || !target.classList || !target.classList.contains("picker-popup")) return;
    if (evt.detail.serverResponse.indexOf("role=\"listbox\"") < 0) {
      evt.detail.shouldSwap = false;
      close(parts(rootOf(target)));
    }
  });

  document.addEventListener("htmx:afterSwap", function (evt) {
    var root = rootOf(evt.detail.target);
    if (!root || !evt.detail.target.classList.contains("picker-popup")) return;
    var p = parts(root);
    prepareList(p);
    setActive(p, null);  // the options are new: none is active until a key says so
    var count = p.popup.querySelector("[data-picker-count]");
    var empty = p.popup.querySelector("[data-picker-empty]");
    announce(p, (empty || count || { textContent: "" }).textContent.trim());
    if (document.activeElement !== p.input || root.pickerClosedByUser) return;
    open(p);
    var then = root.pickerThen;
    root.pickerThen = null;
    if (then === "first") move(p, 1);
    if (then === "last") move(p, -1);
  });

  function parentOf(root) {
    var name = root.dataset.pickerParent;
    var scope = root.closest("form") || document;
    return name ? scope.querySelector("[data-picker][data-picker-name='" + name + "']") : null;
  }

  function childrenOf(root) {
    var scope = root.closest("form") || document;
    return Array.prototype.slice.call(
      scope.querySelectorAll("[data-picker][data-picker-parent='" + root.dataset.pickerName + "']"));
  }

  document.addEventListener("picker:change", function (evt) {
    var root = evt.target;
    var detail = evt.detail;
    // Another company (or none): a contact who works elsewhere goes.
    childrenOf(root).forEach(function (child) {
      var c = parts(child);
      if (c.value.value && c.value.dataset.pickerGroup !== detail.value) clear(c, true);
      else if (!c.value.value) clear(c, true);
    });
    // A contact picked while no company was: their company is filled in.
    var parent = parentOf(root);
    if (parent && detail.group) {
      var q = parts(parent);
      if (q.value.value !== detail.group) choose(q, detail.group, detail.groupLabel, "", "", true);
    }
  });

  document.addEventListener("input", function (evt) {
    if (!evt.target.matches || !evt.target.matches("[data-picker-input]")) return;
    var p = parts(rootOf(evt.target));
    p.root.pickerClosedByUser = false;
    p.root.pickerThen = null;
    // The name no longer matches the chosen row: nothing is chosen until a row is picked
    // (or the server finds exactly this name).
    if (p.value.value && p.input.value !== p.root.pickerLabel) {
      p.value.value = "";
      delete p.value.dataset.pickerGroup;
    }
    syncClear(p);
  });

  document.addEventListener("keydown", function (evt) {
    if (!evt.target.matches || !evt.target.matches("[data-picker-input]")) return;
    var p = parts(rootOf(evt.target));
    var key = evt.key;
    if (key === "ArrowDown" || key === "ArrowUp") {
      evt.preventDefault();
      var step = key === "ArrowDown" ? 1 : -1;
      if (isOpen(p) && !evt.altKey) { move(p, step); return; }
      if (p.popup.querySelector("[role=option]") && p.popup.dataset.forText === p.input.value) {
        open(p);
        if (!evt.altKey) move(p, step);
      } else {
        search(p, evt.altKey ? null : step > 0 ? "first" : "last");
      }
    } else if (key === "Enter") {
      if (!isOpen(p)) return;
      var current = active(p);
      var all = options(p);
      if (!current && all.length === 1) current = all[0];
      evt.preventDefault();  // an open list never submits the form
      if (current) pick(p, current);
    } else if (key === "Escape") {
      if (isOpen(p)) {
        evt.preventDefault();
        evt.stopPropagation();
        p.root.pickerClosedByUser = true;
        close(p);
      } else if (p.input.value !== p.root.pickerLabel) {
        // A second Escape undoes the typing: back to the chosen row's name.
        evt.preventDefault();
        evt.stopPropagation();
        p.input.value = p.root.pickerLabel;
        p.value.value = p.root.pickerChosen;
        syncClear(p);
      }
    } else if (key === "Tab") {
      close(p);
    }
  });

  // Remember which text the listed options were fetched for (ArrowDown reopens them as they
  // are when the text is the same).
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var elt = evt.detail.elt;
    if (!elt.matches || !elt.matches("[data-picker-input]")) return;
    parts(rootOf(elt)).popup.dataset.forText = elt.value;
  });

  // A click into the field opens the list (a tap on a phone, where there are no arrows).
  document.addEventListener("click", function (evt) {
    var target = evt.target;
    var root = rootOf(target);
    if (!root) return;
    var p = parts(root);
    var option = target.closest("[role=option]");
    if (option && p.popup.contains(option)) { pick(p, option); p.input.focus(); return; }
    if (target.closest("[data-picker-clear]")) { clear(p); p.input.focus(); return; }
    if (target === p.input && !isOpen(p)) {
      if (p.popup.querySelector("[role=option]") && p.popup.dataset.forText === p.input.value) open(p);
      else search(p, null);
    }
  });

  // Keep the focus in the field while an option is pressed (the click then picks it).
  document.addEventListener("mousedown", function (evt) {
    var option = evt.target.closest && evt.target.closest(".picker-popup");
    if (option) evt.preventDefault();
  });

  document.addEventListener("focusout", function (evt) {
    var root = rootOf(evt.target);
    if (!root || (evt.relatedTarget && root.contains(evt.relatedTarget))) return;
    close(parts(root));
  });
})();
