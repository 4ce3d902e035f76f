"""`manage.py api_token create USERNAME [--name N] [--expires-days D]`: make a personal API
token and print it (once: only its digest is stored). Also `list USERNAME` and
`revoke TOKEN_ID`. The operator at the server acts here; the token acts as USERNAME."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts import selectors, services
from accounts.models import ApiToken, User


class Command(BaseCommand):
    help = "Create, list or revoke personal API tokens (the REST API's Bearer tokens)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Make a token for USERNAME and print it.")
        create.add_argument("username")
        create.add_argument("--name", default="Command line")
        create.add_argument(
            "--expires-days", type=int, default=None, help="Days it lives (default: no expiry)."
        )
        listing = actions.add_parser("list", help="USERNAME's tokens that are not revoked.")
        listing.add_argument("username")
        revoke = actions.add_parser("revoke", help="Revoke a token by its id (from list).")
        revoke.add_argument("token_id", type=int)

    def handle(self, *args, **options) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _user(self, username: str) -> User:
        user = User.objects.filter(username__iexact=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        return user

    def _create(self, options) -> None:
        user = self._user(options["username"])
        days = options["expires_days"]
        if days is not None and not 1 <= days <= 3650:
            raise CommandError("--expires-days takes 1 to 3650.")
        expires_at = timezone.now() + timedelta(days=days) if days else None
        try:
            token, secret = services.api_token_create(
                acting_user=None, user=user, name=options["name"], expires_at=expires_at
            )
        except services.UserRuleError as error:
            raise CommandError(error.message) from None
        # The secret alone on stdout, so a script can capture it; the rest on stderr.
        self.stdout.write(secret)
        until = f"until {token.expires_at:%Y-%m-%d}" if token.expires_at else "with no expiry"
        self.stderr.write(
            f"Token {token.pk} ({token.name!r}) for {user.username}, {until}. It is shown only now."
        )

    def _list(self, options) -> None:
        user = self._user(options["username"])
        for token in selectors.api_tokens_for_user(user=user):
            expires = f"{token.expires_at:%Y-%m-%d}" if token.expires_at else "never"
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(
                f"{token.pk}\t{token.prefix}…\t{token.name}\texpires {expires}\tlast used {used}"
            )

    def _revoke(self, options) -> None:
        token = ApiToken.objects.filter(pk=options["token_id"]).first()
        if token is None:
            raise CommandError(f"No token with id {options['token_id']}.")
        if services.api_token_revoke(acting_user=None, token=token):
            self.stdout.write(f"Revoked token {token.pk} ({token.name!r}) of {token.user}.")
        else:
            self.stdout.write(f"Token {token.pk} was revoked already.")
