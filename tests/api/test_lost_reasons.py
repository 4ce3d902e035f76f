"""/lost-reasons: the admin's list, active ones unless asked for the retired too."""

from __future__ import annotations

from pipeline.models import LostReason


def test_active_reasons_and_on_request_the_retired(world, api_as, carol):
    retired = LostReason.objects.create(name="Old reason", is_active=False, position=99)
    api = api_as(carol)
    active = [r["id"] for r in api.get("/lost-reasons").json()["results"]]
    assert retired.pk not in active and active
    everything = [
        r["id"] for r in api.get("/lost-reasons", {"include_retired": True}).json()["results"]
    ]
    assert retired.pk in everything
    assert api.get(f"/lost-reasons/{retired.pk}").json()["is_active"] is False
    assert api.get("/lost-reasons/999999").status_code == 404
