"""Settings pages (admins only), under /settings/."""

from django.urls import path

from pipeline import views_settings as views

urlpatterns = [
    path("", views.settings_home, name="settings-home"),
    path("pipelines/", views.pipeline_list, name="settings-pipelines"),
    path("pipelines/<int:pk>/", views.pipeline_detail, name="settings-pipeline"),
    path("pipelines/<int:pk>/edit/", views.pipeline_update, name="settings-pipeline-update"),
    path("pipelines/<int:pk>/archive/", views.pipeline_archive, name="settings-pipeline-archive"),
    path(
        "pipelines/<int:pk>/unarchive/",
        views.pipeline_unarchive,
        name="settings-pipeline-unarchive",
    ),
    path("pipelines/<int:pk>/stages/new/", views.stage_create, name="settings-stage-create"),
    path("pipelines/<int:pk>/stages/order/", views.stage_reorder, name="settings-stage-reorder"),
    path("stages/<int:pk>/", views.stage_row, name="settings-stage-row"),
    path("stages/<int:pk>/edit/", views.stage_update, name="settings-stage-update"),
    path("stages/<int:pk>/move/", views.stage_move, name="settings-stage-move"),
    path("stages/<int:pk>/remove/", views.stage_delete, name="settings-stage-delete"),
    path("stages/<int:pk>/criteria/new/", views.criterion_create, name="settings-criterion-create"),
    path("criteria/<int:pk>/edit/", views.criterion_update, name="settings-criterion-update"),
    path("criteria/<int:pk>/remove/", views.criterion_delete, name="settings-criterion-delete"),
    path("criteria/<int:pk>/move/", views.criterion_move, name="settings-criterion-move"),
    path("lost-reasons/", views.lost_reason_list, name="settings-lost-reasons"),
    path("lost-reasons/order/", views.lost_reason_reorder, name="settings-lost-reason-reorder"),
    path(
        "lost-reasons/<int:pk>/edit/", views.lost_reason_update, name="settings-lost-reason-update"
    ),
    path("lost-reasons/<int:pk>/move/", views.lost_reason_move, name="settings-lost-reason-move"),
    path(
        "lost-reasons/<int:pk>/retire/",
        views.lost_reason_retire,
        name="settings-lost-reason-retire",
    ),
    path(
        "lost-reasons/<int:pk>/restore/",
        views.lost_reason_restore,
        name="settings-lost-reason-restore",
    ),
    path("product-areas/", views.product_area_list, name="settings-product-areas"),
    path("product-areas/order/", views.product_area_reorder, name="settings-product-area-reorder"),
    path(
        "product-areas/<int:pk>/edit/",
        views.product_area_update,
        name="settings-product-area-update",
    ),
    path(
        "product-areas/<int:pk>/move/", views.product_area_move, name="settings-product-area-move"
    ),
    path(
        "product-areas/<int:pk>/retire/",
        views.product_area_retire,
        name="settings-product-area-retire",
    ),
    path(
        "product-areas/<int:pk>/restore/",
        views.product_area_restore,
        name="settings-product-area-restore",
    ),
]
