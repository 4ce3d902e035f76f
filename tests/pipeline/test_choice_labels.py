"""Choice labels that are also common words carry a message context, so they never borrow a
translation made for another meaning (Django's "Email" is the address field: in German
"E-Mail-Adresse", in Swedish "E-postadress")."""

from __future__ import annotations

import struct
from array import array

import pytest
from django.urls import reverse
from django.utils import translation

from pipeline.models import ActivityKind, DealStatus
from tests.factories import DealFactory


@pytest.mark.parametrize("language", ["de", "sv", "da", "nb"])
def test_the_activity_kind_email_does_not_borrow_djangos_email_address(language):
    with translation.override(language):
        label = str(ActivityKind.EMAIL.label)
        ours = translation.pgettext("activity kind", "Email")

    # Our catalogue's word for the kind ("E-Mail", "E-post"), never Django's address field
    # ("E-Mail-Adresse", "E-postadress").
    assert label == ours != "Email"
    assert "adress" not in label.lower()


def write_catalogue(folder, language: str, messages: dict[str, str]) -> None:
    """A compiled GNU catalogue (.mo) for `language` under `folder` (a LOCALE_PATHS entry)."""
    messages = {"": "Content-Type: text/plain; charset=UTF-8\n", **messages}
    keys = sorted(messages)
    ids = strs = b""
    entries = []
    for key in keys:
        key_bytes, value_bytes = key.encode(), messages[key].encode()
        entries.append((len(ids), len(key_bytes), len(strs), len(value_bytes)))
        ids += key_bytes + b"\0"
        strs += value_bytes + b"\0"
    key_start = 7 * 4 + 16 * len(keys)
    value_start = key_start + len(ids)
    key_table, value_table = [], []
    for id_at, id_length, str_at, str_length in entries:
        key_table += [id_length, id_at + key_start]
        value_table += [str_length, str_at + value_start]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), 28, 28 + len(keys) * 8, 0, 0)
    target = folder / language / "LC_MESSAGES"
    target.mkdir(parents=True)
    (target / "django.mo").write_bytes(
        header + array("i", key_table).tobytes() + array("i", value_table).tobytes() + ids + strs
    )


def test_the_labels_are_looked_up_with_their_context(settings, tmp_path):
    """With a catalogue that translates the kind "Email" (context "activity kind") and the
    status "Open" (context "deal status") apart from the plain words, each label gets its own
    translation, and Django's "Email" keeps its own."""
    write_catalogue(
        tmp_path,
        "de",
        {
            "activity kind\x04Email": "E-Mail",
            "deal status\x04Open": "Offen",
            "Open": "Öffnen",
        },
    )
    settings.LOCALE_PATHS = [tmp_path]

    with translation.override("de"):
        assert str(ActivityKind.EMAIL.label) == "E-Mail"
        assert str(DealStatus.OPEN.label) == "Offen"
        assert translation.gettext("Open") == "Öffnen"
        assert translation.gettext("Email") == "E-Mail-Adresse"


def test_the_activity_form_in_german_offers_email_not_an_address(client, alice, stages_a):
    deal = DealFactory(stage=stages_a[0], owner=alice)
    client.force_login(alice)

    response = client.get(reverse("activity-create", args=[deal.pk]), HTTP_ACCEPT_LANGUAGE="de")

    assert response.status_code == 200
    assert "E-Mail-Adresse" not in response.text
    with translation.override("de"):
        kind = translation.pgettext("activity kind", "Email")
    assert f"<span>{kind}</span>" in response.text
