"""The board: the user's default board, a pipeline's columns and their next cards, the
column's quick add, the closed and paused deals."""

from django.urls import path, re_path

from pipeline.views import board

urlpatterns = [
    path("", board.home, name="home"),
    path("pipelines/<int:pk>/board/", board.board, name="board"),
    path("pipelines/<int:pk>/closed/", board.closed_deals, name="closed-deals"),
    re_path(
        r"^pipelines/(?P<pk>[0-9]+)/deals/export\.(?P<file_format>csv|xlsx)$",
        board.deal_export,
        name="deal-export",
    ),
    path("pipelines/<int:pk>/stages/<int:stage_pk>/cards/", board.column_more, name="column-more"),
    path(
        "pipelines/<int:pk>/stages/<int:stage_pk>/deals/new/",
        board.deal_quick_create,
        name="deal-quick-create",
    ),
]
