from django.urls import path

from pipeline import views

urlpatterns = [
    path("", views.home, name="home"),
    path("pipelines/<int:pk>/board/", views.board, name="board"),
    path("pipelines/<int:pk>/closed/", views.closed_deals, name="closed-deals"),
    path("pipelines/<int:pk>/deals/new/", views.deal_create, name="deal-create"),
    path("pipelines/<int:pk>/stages/<int:stage_pk>/cards/", views.column_more, name="column-more"),
    path(
        "pipelines/<int:pk>/stages/<int:stage_pk>/deals/new/",
        views.deal_quick_create,
        name="deal-quick-create",
    ),
    path("deals/<int:pk>/", views.deal_detail, name="deal-detail"),
    path("deals/<int:pk>/edit/", views.deal_update, name="deal-update"),
    path("deals/<int:pk>/move/", views.deal_move, name="deal-move"),
    path("deals/<int:pk>/won/", views.deal_mark_won, name="deal-won"),
    path("deals/<int:pk>/lost/", views.deal_mark_lost, name="deal-lost"),
    path("deals/<int:pk>/reopen/", views.deal_reopen, name="deal-reopen"),
    path("deals/<int:pk>/delete/", views.deal_delete, name="deal-delete"),
    path("deals/<int:pk>/notes/", views.deal_note_create, name="deal-note-create"),
]
