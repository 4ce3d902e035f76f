"""In-app notifications: the bell, the list, opening and marking read, and the services that
create them (flags raised by the scan, activities and deals given to someone)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pipeline import services
from pipeline.models import Deal, Flag, FlagKind, Notification, NotificationKind
from tests.factories import DealFactory, TeamFactory

LIST = reverse("notification-list")


@pytest.fixture
def deal(stages_a, alice):
    return DealFactory(stage=stages_a[0], owner=alice, title="Fleet tracking for 40 trucks")


def notify(user, deal, kind=NotificationKind.DEAL_ASSIGNED, *, actor=None, flag=None, ago=0):
    return Notification.objects.create(
        user=user,
        kind=kind,
        deal=deal,
        actor=actor,
        flag=flag,
        created_at=timezone.now() - timedelta(minutes=ago),
    )


def read_state(*notifications):
    return [Notification.objects.get(pk=n.pk).read_at for n in notifications]


# --- the list --------------------------------------------------------------------------------


def test_list_shows_a_sentence_for_each_kind_newest_first(client, alice, bob, deal, stages_a):
    racking = DealFactory(stage=stages_a[1], owner=alice, title="Racking upgrade")
    flag = Flag.objects.create(deal=racking, kind=FlagKind.NO_NEXT_STEP)
    notify(alice, deal, NotificationKind.DEAL_ASSIGNED, actor=bob, ago=30)
    notify(alice, racking, NotificationKind.FLAG_RAISED, flag=flag, ago=20)
    notify(alice, deal, NotificationKind.ACTIVITY_ASSIGNED, actor=bob, ago=10)
    client.force_login(alice)

    response = client.get(LIST)

    assert response.status_code == 200
    html = response.content.decode()
    given = "<strong>Bob Berg</strong> gave you <strong>“Fleet tracking for 40 trucks”</strong>"
    flagged = "<strong>“Racking upgrade”</strong> needs attention: no next step"
    activity = "<strong>Bob Berg</strong> gave you an activity on <strong>“Fleet tracking"
    assert html.index(activity) < html.index(flagged) < html.index(given)
    assert html.count("is-unread") == 3


def test_overdue_and_stale_flags_say_why(client, alice, deal):
    for kind in (FlagKind.OVERDUE_NEXT_STEP, FlagKind.STALE):
        notify(
            alice,
            deal,
            NotificationKind.FLAG_RAISED,
            flag=Flag.objects.create(deal=deal, kind=kind),
        )
    client.force_login(alice)

    html = client.get(LIST).content.decode()

    assert "needs attention: the next step is overdue" in html
    assert "needs attention: no movement for longer than its stage allows" in html


def test_deal_titles_are_escaped(client, alice, bob, stages_a):
    deal = DealFactory(stage=stages_a[0], owner=alice, title="<img src=x onerror=alert(1)>")
    notify(alice, deal, actor=bob)
    client.force_login(alice)

    html = client.get(LIST).content.decode()

    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_read_notifications_are_not_highlighted(client, alice, deal):
    notify(alice, deal)
    Notification.objects.update(read_at=timezone.now())
    client.force_login(alice)

    html = client.get(LIST).content.decode()

    assert "is-unread" not in html
    assert "bell-count" not in client.get(reverse("notification-bell")).content.decode()
    assert "Mark all read" not in html
    assert "You are all caught up." in html


def test_list_says_how_many_are_unread_and_offers_to_mark_them_all_read(client, alice, deal):
    notify(alice, deal)
    notify(alice, deal, ago=5)
    read = notify(alice, deal, ago=10)
    Notification.objects.filter(pk=read.pk).update(read_at=timezone.now())
    client.force_login(alice)
    html = client.get(LIST).content.decode()
    assert "2 unread" in html
    assert "You are all caught up." not in html
    assert reverse("notifications-mark-all-read") in html
    client.post(reverse("notifications-mark-all-read"))
    html = client.get(LIST).content.decode()
    assert "You are all caught up." in html
    assert reverse("notifications-mark-all-read") not in html


def test_empty_list_says_what_will_appear_here(client, alice):
    client.force_login(alice)

    response = client.get(LIST)

    assert response.status_code == 200
    assert "No notifications yet" in response.content.decode()


def test_list_shows_only_the_users_own_notifications(client, alice, alex, deal):
    mine = notify(alice, deal)
    theirs = notify(alex, deal)
    client.force_login(alice)

    html = client.get(LIST).content.decode()

    assert f'id="notification-{mine.pk}"' in html
    assert f'id="notification-{theirs.pk}"' not in html


def test_notifications_about_a_deal_no_longer_visible_are_left_out(client, alice, deal):
    notification = notify(alice, deal)
    # The deal moves to a team alice is not in.
    other_team = TeamFactory(name="Elsewhere")
    deal.pipeline.team = other_team
    deal.pipeline.save()
    client.force_login(alice)

    html = client.get(LIST).content.decode()

    assert f'id="notification-{notification.pk}"' not in html
    assert "bell-count" not in client.get(reverse("notification-bell")).content.decode()
    response = client.post(reverse("notification-open", args=[notification.pk]))
    assert response.status_code == 404
    assert read_state(notification) == [None]


def test_list_costs_the_same_queries_for_3_and_30_notifications(client, alice, bob, deal, stages_a):
    def queries_for_list() -> int:
        client.force_login(alice)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(LIST).status_code == 200
        return len(ctx.captured_queries)

    flag = Flag.objects.create(deal=deal, kind=FlagKind.STALE)
    for i in range(3):
        notify(alice, deal, NotificationKind.DEAL_ASSIGNED, actor=bob, ago=i)
    notify(alice, deal, NotificationKind.FLAG_RAISED, flag=flag)
    few = queries_for_list()
    for i in range(27):
        other = DealFactory(stage=stages_a[i % 4], owner=alice)
        notify(alice, other, NotificationKind.ACTIVITY_ASSIGNED, actor=bob, ago=i)
    many = queries_for_list()

    # user with memberships (the session comes from the shared cache), notifications with
    # deal, flag and actor, the unread count
    assert few == many == 3


def test_anonymous_is_sent_to_login(client, alice, deal):
    notification = notify(alice, deal)

    for response in (
        client.get(LIST),
        client.post(reverse("notification-open", args=[notification.pk])),
        client.post(reverse("notifications-mark-all-read")),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert read_state(notification) == [None]


# --- the bell --------------------------------------------------------------------------------


def test_bell_shows_the_unread_count_on_every_page(client, alice, deal):
    for _ in range(2):
        notify(alice, deal)
    client.force_login(alice)

    page = client.get(reverse("company-list")).content.decode()
    bell = client.get(reverse("notification-bell")).content.decode()

    assert f'href="{LIST}"' in page and 'id="bell"' in page
    assert 'class="bell-count" aria-hidden="true">2<' in bell
    assert "Notifications, 2 unread" in bell


def test_pages_load_the_bell_count_afterwards_so_they_pay_no_query_for_it(client, alice, deal):
    notify(alice, deal)
    client.force_login(alice)
    with CaptureQueriesContext(connection) as ctx:
        html = client.get(reverse("company-list")).content.decode()
    assert not any("notification" in q["sql"] for q in ctx.captured_queries)
    assert f'hx-get="{reverse("notification-bell")}"' in html
    assert 'hx-trigger="load, every 60s"' in html


def test_the_bell_fragment_counts_in_one_query_and_keeps_polling(client, alice, deal):
    notify(alice, deal)
    client.force_login(alice)
    client.get(reverse("notification-bell"))
    with CaptureQueriesContext(connection) as ctx:
        html = client.get(reverse("notification-bell"), HTTP_HX_REQUEST="true").content.decode()
    # user (the session comes from the shared cache), memberships (the visibility rule), the
    # COUNT
    assert len(ctx.captured_queries) == 2
    assert 'class="bell-count" aria-hidden="true">1<' in html
    assert 'hx-trigger="every 60s"' in html


def test_bell_is_not_shown_to_anonymous_visitors(client, db):
    with CaptureQueriesContext(connection) as ctx:
        html = client.get(reverse("login")).content.decode()

    assert "bell-count" not in html and 'class="bell' not in html
    assert not any("notification" in q["sql"] for q in ctx.captured_queries)


# --- opening and marking read ----------------------------------------------------------------


def test_opening_marks_read_and_goes_to_the_deal(client, alice, deal):
    notification = notify(alice, deal)
    other = notify(alice, deal)
    client.force_login(alice)

    response = client.post(reverse("notification-open", args=[notification.pk]))

    assert response.status_code == 302
    assert response["Location"] == deal.get_absolute_url()
    assert read_state(notification)[0] is not None
    assert read_state(other) == [None]


def test_opening_twice_keeps_the_first_read_time(client, alice, deal):
    notification = notify(alice, deal)
    client.force_login(alice)
    client.post(reverse("notification-open", args=[notification.pk]))
    first = read_state(notification)

    response = client.post(reverse("notification-open", args=[notification.pk]))

    assert response.status_code == 302
    assert read_state(notification) == first


def test_opening_needs_a_post(client, alice, deal):
    notification = notify(alice, deal)
    client.force_login(alice)

    response = client.get(reverse("notification-open", args=[notification.pk]))

    assert response.status_code == 405
    assert read_state(notification) == [None]


def test_another_users_notification_is_404_and_unchanged(client, alice, bob, deal):
    theirs = notify(bob, deal)
    client.force_login(alice)

    response = client.post(reverse("notification-open", args=[theirs.pk]))

    assert response.status_code == 404
    assert read_state(theirs) == [None]


def test_missing_notification_is_404(client, alice):
    client.force_login(alice)

    assert client.post(reverse("notification-open", args=[987654])).status_code == 404


def test_mark_all_read_marks_only_the_users_own(client, alice, bob, deal):
    mine = [notify(alice, deal), notify(alice, deal)]
    theirs = notify(bob, deal)
    client.force_login(alice)

    response = client.post(reverse("notifications-mark-all-read"))

    assert response.status_code == 302 and response["Location"] == LIST
    assert all(read_at is not None for read_at in read_state(*mine))
    assert read_state(theirs) == [None]
    assert "bell-count" not in client.get(reverse("notification-bell")).content.decode()


def test_mark_all_read_needs_a_post(client, alice, deal):
    notification = notify(alice, deal)
    client.force_login(alice)

    assert client.get(reverse("notifications-mark-all-read")).status_code == 405
    assert read_state(notification) == [None]


# --- who gets notified -----------------------------------------------------------------------


def summaries(user=None):
    qs = Notification.objects.filter(kind=NotificationKind.FLAGS_RAISED)
    return list(qs.filter(user=user) if user else qs)


def test_scan_sends_each_owner_one_summary_with_counts_per_kind(alice, alex, stages_a):
    now = timezone.now()
    for i in range(3):
        DealFactory(stage=stages_a[0], owner=alice, title=f"Bare {i}")
    overdue = DealFactory(stage=stages_a[1], owner=alice, title="Late")
    services.activity_create(
        acting_user=alice, deal=overdue, subject="Call", due_date=timezone.localdate()
    )
    Deal.objects.filter(pk=overdue.pk).update(
        next_step_due=timezone.localdate() - timedelta(days=2), rots_at=now - timedelta(days=1)
    )
    DealFactory(stage=stages_a[0], owner=alex)
    DealFactory(stage=stages_a[0], owner=None)

    result = services.flags_scan(now=now)

    assert result.raised == 3 + 2 + 1 + 1  # the unowned deal is flagged too
    [mine] = summaries(alice)
    assert mine.deal_id is None and mine.created_at == now and mine.read_at is None
    assert mine.details == {"deals": 4, "no_next_step": 3, "overdue_next_step": 1, "stale": 1}
    assert mine.summary_parts == ["3 without a next step", "1 overdue", "1 with no movement"]
    [theirs] = summaries(alex)
    assert theirs.details["deals"] == 1
    # Nobody is told about the unowned deal, and no notification per flag is written.
    assert len(summaries()) == 2
    assert not Notification.objects.filter(kind=NotificationKind.FLAG_RAISED).exists()


def test_a_second_scan_with_nothing_new_sends_nothing(alice, deal):
    services.flags_scan()
    services.flags_scan()

    assert len(summaries(alice)) == 1


def test_the_same_scan_run_twice_keeps_one_summary(alice, deal):
    """A redelivered task (same time) or a concurrent scan: the unique constraint holds."""
    now = timezone.now()
    services.flags_scan(now=now)
    Flag.objects.all().delete()  # as if the second worker raised them itself

    services.flags_scan(now=now)

    assert len(summaries(alice)) == 1


def test_a_sync_in_chunks_with_one_time_ends_with_one_summary_of_them_all(alice, stages_a):
    """An import syncs its deals' flags in chunks, all at the import's time."""
    now = timezone.now()
    first, second = (DealFactory(stage=stages_a[0], owner=alice) for _ in range(2))

    for deal in (first, second):
        services.flags_sync(deals=Deal.objects.filter(pk=deal.pk), now=now)

    [summary] = summaries(alice)
    assert summary.details["deals"] == 2 and summary.details["no_next_step"] == 2


def test_a_flag_raised_again_after_being_resolved_notifies_again(alice, deal):
    services.flags_scan()
    activity = services.activity_create(
        acting_user=alice, deal=deal, subject="Call", due_date=timezone.localdate()
    )
    services.activity_complete(acting_user=alice, activity=activity)

    services.flags_scan()

    assert Flag.objects.filter(deal=deal, kind=FlagKind.NO_NEXT_STEP).count() == 2
    assert len(summaries(alice)) == 2


def test_summary_reads_in_the_list_and_opens_its_page(client, alice, deal, stages_a):
    other = DealFactory(stage=stages_a[1], owner=alice, title="Racking upgrade")
    services.flags_scan()
    [summary] = summaries(alice)
    client.force_login(alice)

    html = client.get(LIST).content.decode()
    assert "<strong>2 of your deals</strong> need attention: 2 without a next step" in html
    response = client.post(reverse("notification-open", args=[summary.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("notification-summary", args=[summary.pk])
    assert read_state(summary)[0] is not None

    page = client.get(response["Location"])

    assert page.status_code == 200
    html = page.content.decode()
    assert "2 of your deals need attention" in html
    assert f'id="summary-deal-{deal.pk}"' in html and f'id="summary-deal-{other.pk}"' in html
    assert html.count("No next step") == 2
    assert "?attention=1&amp;owner=me" in html


def test_summary_page_shows_a_fixed_deal_as_fixed(client, alice, deal):
    services.flags_scan()
    services.activity_create(
        acting_user=alice, deal=deal, subject="Call", due_date=timezone.localdate()
    )
    [summary] = summaries(alice)
    client.force_login(alice)

    html = client.get(reverse("notification-summary", args=[summary.pk])).content.decode()

    assert f'id="summary-deal-{deal.pk}"' in html and "Fixed since" in html


def test_summary_page_is_the_recipients_only(client, alice, bob, alex, deal):
    services.flags_scan()
    [summary] = summaries(alice)
    page = reverse("notification-summary", args=[summary.pk])

    for outsider in (bob, alex):  # her manager and a teammate: both see the deal, not this
        client.force_login(outsider)
        assert client.get(page).status_code == 404
        assert client.post(reverse("notification-open", args=[summary.pk])).status_code == 404
    assert read_state(summary) == [None]
    client.logout()
    assert client.get(page).status_code == 302


def test_summary_page_leaves_out_deals_no_longer_visible(client, alice, deal):
    services.flags_scan()
    [summary] = summaries(alice)
    deal.pipeline.team = TeamFactory(name="Elsewhere")
    deal.pipeline.save()
    client.force_login(alice)

    html = client.get(reverse("notification-summary", args=[summary.pk])).content.decode()

    assert f'id="summary-deal-{deal.pk}"' not in html and "Nothing left here" in html


def test_summary_page_is_404_for_a_notification_of_another_kind(client, alice, deal):
    notification = notify(alice, deal)
    client.force_login(alice)

    assert client.get(reverse("notification-summary", args=[notification.pk])).status_code == 404


def test_deleting_a_deal_deletes_its_flags_and_keeps_pages_working(client, alice, deal):
    services.flags_scan()
    [summary] = summaries(alice)
    deal.delete()
    client.force_login(alice)

    assert not Flag.objects.exists()
    assert client.get(LIST).status_code == 200
    assert client.get(reverse("notification-summary", args=[summary.pk])).status_code == 200


def test_activity_given_to_someone_else_notifies_them(alice, bob, deal):
    services.activity_create(
        acting_user=bob,
        deal=deal,
        subject="Send the proposal",
        due_date=timezone.localdate() + timedelta(days=2),
        assignee=alice,
    )

    notification = Notification.objects.get()
    assert (notification.user, notification.kind, notification.deal, notification.actor) == (
        alice,
        NotificationKind.ACTIVITY_ASSIGNED,
        deal,
        bob,
    )


def test_activity_you_give_yourself_notifies_nobody(alice, deal):
    services.activity_create(
        acting_user=alice,
        deal=deal,
        subject="Call the CFO",
        due_date=timezone.localdate(),
        assignee=alice,
    )

    assert not Notification.objects.exists()


def test_reassigning_an_activity_notifies_the_new_assignee(alice, alex, bob, deal):
    activity = services.activity_create(
        acting_user=alice, deal=deal, subject="Demo", due_date=timezone.localdate()
    )

    services.activity_update(acting_user=bob, activity=activity, data={"assignee": alex})

    assert list(Notification.objects.values_list("user", "kind", "actor")) == [
        (alex.pk, NotificationKind.ACTIVITY_ASSIGNED, bob.pk)
    ]


def test_reassigning_a_deal_notifies_the_new_owner(alice, alex, bob, deal):
    services.deal_update(acting_user=bob, deal=deal, version=deal.version, data={"owner": alex})

    assert list(Notification.objects.values_list("user", "kind", "deal", "actor")) == [
        (alex.pk, NotificationKind.DEAL_ASSIGNED, deal.pk, bob.pk)
    ]


def test_taking_a_deal_yourself_notifies_nobody(bob, deal, team_a):
    services.deal_update(acting_user=bob, deal=deal, version=deal.version, data={"owner": bob})

    assert not Notification.objects.exists()
