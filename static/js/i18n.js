// The JavaScript strings' translations: gettext, ngettext, pgettext, npgettext and
// interpolate on window, as Django's JavaScriptCatalog defines them. The catalogue is the
// JSON block base.html renders into the page ({% js_catalogue %}, crm/web/js_catalogue.py):
// no request of its own, no inline script. Loaded before every other script of the site.
(function () {
  "use strict";

  var catalogue = {};
  var block = document.getElementById("js-catalogue");
  if (block) {
    try {
      catalogue = JSON.parse(block.textContent).catalog || {};
    } catch (e) {
      catalogue = {};
    }
  }

  // Danish, Norwegian, Swedish, German and English share one plural rule (the catalogue
  // check in tests/i18n/ holds every catalogue to it); a language with another rule needs
  // its own here.
  function pluralIndex(count) { return count === 1 ? 0 : 1; }

  function gettext(msgid) {
    var value = catalogue[msgid];
    if (value === undefined || value === "") return msgid;
    return typeof value === "string" ? value : value[0];
  }

  function ngettext(singular, plural, count) {
    var value = catalogue[singular];
    var forms = Array.isArray(value) ? value : null;
    var chosen = forms ? forms[pluralIndex(count)] : "";
    if (chosen) return chosen;
    return count === 1 ? singular : plural;
  }

  function pgettext(context, msgid) {
    var value = gettext(context + "\x04" + msgid);
    return value.indexOf("\x04") >= 0 ? msgid : value;
  }

  function npgettext(context, singular, plural, count) {
    var value = ngettext(context + "\x04" + singular, context + "\x04" + plural, count);
    return value.indexOf("\x04") >= 0 ? ngettext(singular, plural, count) : value;
  }

  // interpolate("%(n)s deals", {n: 3}, true) or interpolate("%s of %s", [1, 2]).
  function interpolate(format, values, named) {
    if (named) {
      return format.replace(/%\(\w+\)s/g, function (match) {
        return String(values[match.slice(2, -2)]);
      });
    }
    var index = 0;
    return format.replace(/%s/g, function () { return String(values[index++]); });
  }

  window.gettext = gettext;
  window.ngettext = ngettext;
  window.pgettext = pgettext;
  window.npgettext = npgettext;
  window.interpolate = interpolate;
})();
