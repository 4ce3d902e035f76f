"""The keys that tell two companies are probably the same firm (crm/matching.py)."""

from __future__ import annotations

import pytest

from crm.matching import company_name_key, web_host_key


@pytest.mark.parametrize(
    "name",
    [
        "Acme",
        "ACME",
        "acme",
        "  Acme  ",
        "Acme A/S",
        "Acme ApS",
        "Acme AS",
        "Acme ASA",
        "Acme AB",
        "Acme AB (publ)",
        "AB Acme",
        "Oy Acme Ab",
        "Acme Oy",
        "Acme GmbH",
        "Acme G.m.b.H.",
        "Acme AG",
        "Acme Ltd.",
        "Acme Limited",
        "Acme, Inc.",
        "Acme,Inc",
        "Acme Inc",
        "Acme Corp.",
        "Acme & Co",
        "Acme and Co.",
        "Acme S.A.",
        "Acme B.V.",
        "Acme sp. z o.o.",
        "Acme I/S",
        "Acme A.m.b.A.",
        "ÄCME",
        "Acmé",
        "A.C.M.E.",
        "Acme!",
    ],
)
def test_spellings_of_one_firm_give_one_key(name):
    assert company_name_key(name) == "acme"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Acme Nordic A/S", "acmenordic"),
        ("Acme-Nordic", "acmenordic"),
        ("Acme  Nordic", "acmenordic"),
        ("Straße GmbH", "strasse"),
        ("Ørsted A/S", "ørsted"),
        ("Århus Vand", "arhusvand"),
        ("Novo Nordisk A/S", "novonordisk"),
        ("AB Volvo (publ)", "volvo"),
        # A legal form inside or at the front of the name is part of the name.
        ("EG Holding A/S", "egholding"),
        ("Co-op Danmark", "coopdanmark"),
        ("AG Barr plc", "agbarr"),
    ],
)
def test_name_key_keeps_the_words_that_name_the_firm(name, key):
    assert company_name_key(name) == key


def test_different_firms_keep_different_keys():
    assert company_name_key("Acme A/S") != company_name_key("Acme Nordic A/S")
    assert company_name_key("Novo") != company_name_key("Novo Nordisk")


def test_a_name_that_is_only_a_legal_form_keeps_it():
    assert company_name_key("ASA") == "asa"
    assert company_name_key("A/S") == "as"


@pytest.mark.parametrize("name", ["", "   ", "---", "&&", "()"])
def test_a_name_without_letters_gives_an_empty_key(name):
    assert company_name_key(name) == ""


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("acme.dk", "acme.dk"),
        ("ACME.DK", "acme.dk"),
        ("www.acme.dk", "acme.dk"),
        ("https://www.Acme.dk/om-os?x=1#top", "acme.dk"),
        ("http://acme.dk:8080/", "acme.dk"),
        ("acme.dk.", "acme.dk"),
        ("  acme.dk  ", "acme.dk"),
        ("shop.acme.dk", "shop.acme.dk"),
        ("wwwacme.dk", "wwwacme.dk"),
        ("", ""),
        ("   ", ""),
        ("https://", ""),
        ("http://[::1", ""),  # malformed: compared as nothing, never an error
    ],
)
def test_web_host_key(value, host):
    assert web_host_key(value) == host
