"""The manager's weekly review and the decisions taken on its rows."""

from django.urls import path

from crm.first_run import setup_required
from pipeline.views import review

urlpatterns = [
    path("review/", setup_required("team")(review.review), name="review"),
    path("review/sections/<slug:key>/", review.review_section, name="review-section"),
    path("review/deals/<int:pk>/", review.review_row, name="review-row"),
    path("review/deals/<int:pk>/next-step/", review.review_next_step, name="review-next-step"),
    path("review/deals/<int:pk>/owner/", review.review_owner, name="review-owner"),
    path(
        "review/deals/<int:pk>/close-date/",
        review.review_close_date,
        name="review-close-date",
    ),
    path("review/deals/<int:pk>/pause/", review.review_pause, name="review-pause"),
    path("review/deals/<int:pk>/lost/", review.review_lost, name="review-lost"),
    path("review/deals/<int:pk>/move-back/", review.review_move_back, name="review-move-back"),
    path("review/deals/<int:pk>/reviewed/", review.review_mark, name="review-mark"),
]
