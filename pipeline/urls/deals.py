"""A deal: create, the page, edit, move, won, lost, reopen, pause, resume, delete, notes."""

from django.urls import path

from pipeline.views import deals

urlpatterns = [
    path("pipelines/<int:pk>/deals/new/", deals.deal_create, name="deal-create"),
    path("deals/<int:pk>/", deals.deal_detail, name="deal-detail"),
    path("deals/<int:pk>/edit/", deals.deal_update, name="deal-update"),
    path("deals/<int:pk>/move/", deals.deal_move, name="deal-move"),
    path("deals/<int:pk>/move-check/", deals.deal_move_check, name="deal-move-check"),
    path("deals/<int:pk>/won/", deals.deal_mark_won, name="deal-won"),
    path("deals/<int:pk>/lost/", deals.deal_mark_lost, name="deal-lost"),
    path("deals/<int:pk>/reopen/", deals.deal_reopen, name="deal-reopen"),
    path("deals/<int:pk>/delete/", deals.deal_delete, name="deal-delete"),
    path("deals/<int:pk>/notes/", deals.deal_note_create, name="deal-note-create"),
    path("deals/<int:pk>/pause/", deals.deal_pause, name="deal-pause"),
    path("deals/<int:pk>/resume/", deals.deal_resume, name="deal-resume"),
]
