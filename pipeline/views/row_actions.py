"""Decisions the weekly review and the clean-up list both take on a deal's row: one service
each, given the row form's cleaned data, answering with the short confirmation the row shows.
The views keep their own doors, forms and responses."""

from __future__ import annotations

from django.utils.translation import gettext as _

from crm.web.formats import format_date
from pipeline import services


def update(user, deal, data, **fields):
    """Save `fields` on the deal at the version the row was drawn with; the saved deal."""
    return services.deal_update(acting_user=user, deal=deal, version=data["version"], data=fields)


def pause(user, deal, data) -> str:
    services.deal_pause(
        acting_user=user,
        deal=deal,
        version=data["version"],
        until=data["until"],
        reason=data["reason"],
    )
    return _("Paused until %(date)s.") % {"date": format_date(data["until"])}


def move_back(user, deal, data) -> str:
    moved = services.deal_move_back(acting_user=user, deal=deal, version=data["version"])
    return _("Moved back to %(stage)s.") % {"stage": moved.stage.name}
