"""Prepared statements per statement (crm/prepared.py): inside `prepared()` psycopg prepares
what runs, outside nothing is prepared (the analytics' plans depend on their parameters), and
the drag's lock of the deal is the statement that uses it."""

from __future__ import annotations

from django.db import connection
from django.urls import reverse

from crm.prepared import prepared
from pipeline.models import Deal
from tests.conftest import requires_postgres
from tests.factories import DealFactory


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@requires_postgres
def test_only_what_runs_inside_is_prepared_and_the_setting_comes_back(db):
    connection.ensure_connection()
    before = connection.connection.prepare_threshold
    Deal.objects.filter(title="outside").count()
    with prepared():
        Deal.objects.filter(lost_note="inside").count()
        Deal.objects.filter(lost_note="inside").count()
    assert connection.connection.prepare_threshold == before
    statements = prepared_statements()
    assert [s for s in statements if '"pipeline_deal"."lost_note" = $1' in s]
    assert not [s for s in statements if '"pipeline_deal"."title" = $1' in s]


@requires_postgres
def test_the_drags_lock_is_prepared_and_the_move_still_lands(client, alice, stages_a):
    deal = DealFactory(stage=stages_a[0], owner=alice)
    client.force_login(alice)
    for version, stage in ((1, stages_a[1]), (2, stages_a[0])):
        response = client.post(
            reverse("deal-move", args=[deal.pk]),
            {"stage": stage.pk, "version": version},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.stage_id == stages_a[0].pk and deal.version == 3
    assert [s for s in prepared_statements() if "FOR NO KEY UPDATE" in s]


def test_on_sqlite_it_changes_nothing(db):
    with prepared():
        assert Deal.objects.count() == 0


@requires_postgres
def test_the_board_s_reads_by_key_are_prepared_and_its_cards_statement_is_not(
    client, alice, stages_a
):
    """The compiled reads of every board request (the user, the switcher, the stages, the kept
    totals, the owner filter's people) are planned once per connection; the cards' statement,
    whose plan depends on the stage ids and filters, is planned on every request."""
    DealFactory(stage=stages_a[0], owner=alice)
    client.force_login(alice)
    response = client.get(reverse("board", args=[stages_a[0].pipeline_id]))
    assert response.status_code == 200
    statements = prepared_statements()
    for table in ("accounts_user", "pipeline_pipeline", "pipeline_stage", "pipeline_stagetotal"):
        assert [s for s in statements if f'FROM "{table}"' in s], table
    assert not [s for s in statements if "board_stage" in s]
