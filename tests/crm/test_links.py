"""crm/web/links.py and the `{% url %}` tag in its place (crm/templatetags/links.py), and the
Jinja environment's remembered messages (crm/web/jinja.py): the same answers as Django's."""

from __future__ import annotations

import pytest
from django.template import Context, Template, engines
from django.test import override_settings
from django.urls import NoReverseMatch, reverse, set_script_prefix
from django.utils import translation

from crm.templatetags.links import KeptURLNode
from crm.web.jinja import _translated
from crm.web.links import can_keep, kept_reverse


@pytest.fixture
def script_prefix():
    yield set_script_prefix
    set_script_prefix("/")


def test_the_url_tag_is_ours_and_answers_as_django_s():
    template = Template(
        "{% url 'home' %}|{% url 'board' pk %}|{% url 'deal-export' pk 'csv' %}"
        "|{% url 'board' pk=pk %}|{% url 'no-such-page' as missing %}[{{ missing }}]"
        "|{% url 'forecast' as forecast %}{{ forecast }}"
    )
    assert any(isinstance(node, KeptURLNode) for node in template.nodelist)
    rendered = template.render(Context({"pk": 7}))
    assert rendered == "|".join(
        [
            reverse("home"),
            reverse("board", args=[7]),
            reverse("deal-export", args=[7, "csv"]),
            reverse("board", kwargs={"pk": 7}),
            "[]",
            reverse("forecast"),
        ]
    )
    with pytest.raises(NoReverseMatch):
        Template("{% url 'no-such-page' %}").render(Context())
    with pytest.raises(NoReverseMatch):
        Template("{% url 'board' %}").render(Context())  # a failure is not remembered


def test_a_link_follows_the_script_prefix_in_force(script_prefix):
    plain = kept_reverse("board", (3,))
    script_prefix("/crm/")
    assert kept_reverse("board", (3,)) == "/crm" + plain
    assert Template("{% url 'board' 3 %}").render(Context()) == "/crm" + plain
    jinja = engines["jinja2"].from_string("{{ url('board', 3) }}")
    assert jinja.render({}) == "/crm" + plain
    script_prefix("/")
    assert kept_reverse("board", (3,)) == plain


def test_only_plain_ids_and_slugs_are_remembered(db):
    from django.utils.safestring import mark_safe

    from tests.factories import PipelineFactory

    assert can_keep((7, "csv"))
    assert not can_keep((PipelineFactory(),))  # its str() can change while it hashes the same
    assert not can_keep((mark_safe("csv"),))
    assert not can_keep((7.0,))


def test_jinja_messages_are_the_active_language_s():
    template = engines["jinja2"].from_string(
        "{{ _('Needs attention') }}|{{ pgettext('a button that opens the chosen view', 'Open') }}"
        "|{{ ngettext('%(num)d deal', '%(num)d deals', 2) }}"
    )
    for language in ("en-gb", "da", "de", "en-gb", "da"):
        with translation.override(language):
            expected = "|".join(
                [
                    translation.gettext("Needs attention"),
                    translation.pgettext("a button that opens the chosen view", "Open"),
                    translation.ngettext("%(num)d deal", "%(num)d deals", 2) % {"num": 2},
                ]
            )
            assert template.render({}) == expected
    with translation.override("da"):
        assert template.render({}).startswith("Kræver opmærksomhed|")
    assert _translated.cache_info().currsize > 0
    with override_settings(LOCALE_PATHS=[]):  # the catalogues may differ: nothing is kept
        assert _translated.cache_info().currsize == 0


def test_the_static_tag_is_ours_and_follows_the_settings():
    from django.templatetags.static import static

    from crm.templatetags.links import KeptStaticNode

    template = Template("{% static 'css/app.css' %}|{% static 'js/a b.js' %}")
    assert any(isinstance(node, KeptStaticNode) for node in template.nodelist)
    assert template.render(Context()) == f"{static('css/app.css')}|{static('js/a b.js')}"
    with override_settings(STATIC_URL="/assets/"):
        assert template.render(Context()) == "/assets/css/app.css|/assets/js/a%20b.js"
    assert template.render(Context()).startswith(static("css/app.css"))


def test_the_language_switcher_marks_the_language_in_force_on_every_page(rf, db):
    from django.template.loader import render_to_string

    request = rf.get("/board/?q=a")
    for language, current in (("da", "Dansk"), ("de", "Deutsch"), ("da", "Dansk")):
        with translation.override(language):
            html = render_to_string(
                "partials/language_switcher.html", {"switcher_id": "topbar"}, request=request
            )
        assert html.count('aria-current="true"') == 1
        assert f'aria-current="true">{current}</button>' in html
        assert 'aria-labelledby="language-switcher-label-topbar"' in html
        assert 'name="next" value="/board/?q=a"' in html
        assert "Norsk (bokmål)" in html and "Svenska" in html
