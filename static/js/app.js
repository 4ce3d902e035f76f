// Small behaviours shared by every page: toasts, the modal, confirm, auto-submit.
(function () {
  "use strict";

  function dismissLater(toast) {
    if (toast.dataset.timer) return;
    toast.dataset.timer = "1";
    window.setTimeout(function () {
      toast.classList.add("is-leaving");
      window.setTimeout(function () { toast.remove(); }, 400);
    }, 6000);
  }

  function modal() { return document.getElementById("modal"); }

  function closeModal() {
    var dialog = modal();
    if (dialog && dialog.open) dialog.close();
    var body = document.getElementById("modal-body");
    if (body) body.innerHTML = "";
  }

  // On a phone the main menu scrolls sideways: the page's own section is scrolled into view,
  // and the edge fades while more sections wait to the right (or left).
  function topnavEdges(nav) {
    var end = nav.scrollWidth - nav.clientWidth;
    nav.classList.toggle("more-right", nav.scrollLeft < end - 1);
    nav.classList.toggle("more-left", nav.scrollLeft > 1);
  }

  function topnavSetUp() {
    var nav = document.querySelector(".topnav");
    if (!nav) return;
    var active = nav.querySelector("a.active");
    if (active && nav.scrollWidth > nav.clientWidth) {
      var left = active.offsetLeft - nav.offsetLeft;  // both from the top bar
      nav.scrollLeft = left - (nav.clientWidth - active.offsetWidth) / 2;
    }
    topnavEdges(nav);
    nav.addEventListener("scroll", function () { topnavEdges(nav); }, { passive: true });
    window.addEventListener("resize", function () { topnavEdges(nav); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#toasts .toast").forEach(dismissLater);
    topnavSetUp();
  });

  document.addEventListener("htmx:afterSettle", function (evt) {
    document.querySelectorAll("#toasts .toast").forEach(dismissLater);
    var target = evt.detail.target;
    if (target && target.id === "modal-body" && target.children.length) {
      var dialog = modal();
      if (!dialog.open) dialog.showModal();
      var first = target.querySelector("select, input:not([type=hidden]), textarea");
      if (first) first.focus();
    }
  });

  function errorToast(text) {
    var toasts = document.getElementById("toasts");
    if (!toasts || !text) return;
    var toast = document.createElement("div");
    toast.className = "toast toast-error";
    toast.setAttribute("role", "alert");
    toast.textContent = text;
    toasts.insertBefore(toast, toasts.firstChild);
    dismissLater(toast);
  }

  // A server error is not swapped into the page (htmx-config): show it as a toast instead,
  // the server's own (a 503 "try again in a moment" comes as one) or a general one.
  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr;
    if (!xhr || xhr.status < 500) return;
    var own = xhr.getResponseHeader("HX-Retarget") === "#toasts";
    var parsed = own ? new DOMParser().parseFromString(xhr.responseText, "text/html") : null;
    var text = parsed && parsed.body.textContent.trim();
    errorToast(text || gettext("Something went wrong on our side. Please try again in a moment."));
  });

  // No answer at all (offline, the server unreachable): say so rather than nothing.
  document.addEventListener("htmx:sendError", function () {
    errorToast(gettext("The server could not be reached. Check your connection and try again."));
  });

  // A keyboard move answers with the list redrawn and the moved row's button marked: focus it
  // at once, in the swap, so the next key press lands on it. (Not `autofocus`: the browser
  // applies that asynchronously once per page, and could steal focus from a later choice.)
  htmx.onLoad(function (root) {
    var marked = root.matches && root.matches("[data-focus-after-swap]")
      ? root : root.querySelector && root.querySelector("[data-focus-after-swap]");
    if (!marked) return;
    marked.removeAttribute("data-focus-after-swap");
    marked.focus();
  });

  document.body && document.body.addEventListener("modal:close", closeModal);
  document.addEventListener("modal:close", closeModal);

  document.addEventListener("click", function (evt) {
    var closer = evt.target.closest("[data-close-modal]");
    if (closer) { closeModal(); return; }
    var clearer = evt.target.closest("[data-clear-closest]");
    if (clearer) {
      var box = clearer.closest(clearer.dataset.clearClosest);
      if (box) box.innerHTML = "";
    }
  });

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      evt.preventDefault();
    }
  });

  document.addEventListener("change", function (evt) {
    var form = evt.target.closest("form[data-autosubmit]");
    if (form) form.submit();
  });
})();
