"""`seed_demo --language da`: the demo organisation's texts in that language (stage names,
exit criteria, routines, activities and next steps, lost reasons, the pipelines), and a
second run in the same language adds nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from crm.devtools.demo import demo_texts
from crm.organisation import organisation_changed, organisation_get
from pipeline.models import Activity, ExitCriterion, LostReason, Pipeline, Stage
from tests.catalogue import catalogue

pytestmark = pytest.mark.django_db

DANISH = {
    "New business": "Nyt salg",
    "Proposal sent": "Tilbud sendt",
    "Lead in": "Nyt lead",
    "Customer confirmed the need": "Kunden har bekræftet behovet",
    "Discovery call": "Afdækningsopkald",
    "Price too high": "For dyrt",
    "Check back on the decision": "Følg op på beslutningen",
}


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_the_demo_is_seeded_in_danish_and_a_second_run_adds_nothing(tmp_path):
    with catalogue(tmp_path, {"da": DANISH}):
        seed("--language", "da")
        stages = set(Stage.objects.values_list("name", flat=True))
        assert {"Tilbud sendt", "Nyt lead"} <= stages
        assert not {"Proposal sent", "Lead in"} & stages
        assert Pipeline.objects.filter(name="Nyt salg").exists()
        assert not Pipeline.objects.filter(name="New business").exists()
        assert ExitCriterion.objects.filter(text="Kunden har bekræftet behovet").exists()
        assert LostReason.objects.filter(name="For dyrt").exists()
        assert not LostReason.objects.filter(name="Price too high").exists()
        assert Activity.objects.filter(subject="Afdækningsopkald").exists()
        organisation_changed()
        assert organisation_get().language == "da"
        counts = (Stage.objects.count(), Pipeline.objects.count(), Activity.objects.count())

        seed("--language", "da")
        assert (Stage.objects.count(), Pipeline.objects.count(), Activity.objects.count()) == (
            counts
        )
        assert not Stage.objects.filter(name="Proposal sent").exists()


def test_every_demo_text_is_marked_for_the_catalogues():
    """`demo_texts()` lists what the translation pass renames; each of them is written with
    `gettext_noop` in the source, so makemessages puts it into the catalogues."""
    from pathlib import Path

    import crm.devtools.demo as demo
    import crm.devtools.demo_history as history
    import crm.devtools.demo_language as language

    source = "".join(Path(m.__file__).read_text() for m in (demo, history, language))
    missing = [text for text in demo_texts() if f'N_("{text}")' not in source]
    assert missing == []


def test_an_unknown_language_is_refused():
    with pytest.raises(CommandError):
        seed("--language", "fr")
    assert not Pipeline.objects.exists()
