"""Make an API token with which a staff user reads the prediction history.

    python manage.py create_api_token alice --name "claims intake"

The token is printed once; only its sha256 is stored, so it cannot be shown again
(make a new one and delete the old one in the admin if it is lost).
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from predictor.security import tokens
from predictor.security.permissions import history_reader


class Command(BaseCommand):
    help = "Make an API token for a staff user and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username", help="The staff user the token acts for.")
        parser.add_argument("--name", default="", help="What the token is for (default: 'token for USERNAME').")

    def handle(self, *args, **options):
        username = options["username"]
        user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}; make one with `manage.py createsuperuser`.")
        if not user.is_active:
            raise CommandError(f"The user {username!r} is not active.")
        token, key = tokens.api_token_create(user=user, name=options["name"] or f"token for {username}")
        if not history_reader(user):
            self.stderr.write(
                self.style.WARNING(
                    f"{username} is not staff with the \"Can view prediction\" permission: "
                    "the token will be refused (403) until they are."
                )
            )
        if options["verbosity"] >= 1:
            self.stderr.write(f"API token {token.name!r} ({token.prefix}…) for {username}; copy it now, it is not stored:")
        self.stdout.write(key)
