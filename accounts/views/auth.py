"""Sign in, sign out, password change, set-password links and "forgot your password": Django's
views with our templates and the security log; and the answer to a failed CSRF check."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect
from django.urls import reverse_lazy
from django.utils.translation import gettext as _

from accounts import services
from accounts.security import client_address, security_event
from crm.web.refusals import refusal


class PasswordChangeView(auth_views.PasswordChangeView):
    """Changing the password ends every other session of the user (their session hash no
    longer matches); this one continues under a new session key (Django's
    update_session_auth_hash), so the person who just typed the old password stays in."""

    template_name = "registration/password_change_form.html"

    def form_valid(self, form):
        response = super().form_valid(form)
        security_event("password_changed", request=self.request, user_id=form.user.pk)
        return response


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """The one-time link from an invitation or an admin's reset. Django moves the token out
    of the URL into the session at the first visit, so it never leaks through Referer."""

    template_name = "registration/password_set_form.html"
    success_url = reverse_lazy("password-set-done")

    def form_valid(self, form):
        response = super().form_valid(form)
        security_event("password_changed", request=self.request, user_id=form.user.pk, via="link")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """The "Forgot your password?" page: Django's view and form, with our throttle and
    delivery. Every valid request gets the same redirect to the same page, whether the address
    belongs to someone, to no one, or is throttled; the link goes out by mail only."""

    template_name = "registration/password_reset_form.html"
    success_url = reverse_lazy("password-reset-sent")

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        queued = services.password_reset_request(email=email, address=client_address(self.request))
        event = "password_reset_requested" if queued else "password_reset_throttled"
        security_event(event, request=self.request, email=email)
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: log the event (the reason, never the token) and say what to do."""
    request._security_logged = True
    security_event("csrf_failure", request=request, reason=reason)
    message = _("This form had expired or came from another site. Reload the page and try again.")
    return refusal(request, message, status=403)
