"""Unlock a staff member locked out of the admin by failed sign-ins, before the cool-off ends.

    python manage.py unlock_login alice
    python manage.py unlock_login alice --ip 203.0.113.7
    python manage.py unlock_login alice --dry-run

The lockout (django-axes) counts failed sign-ins per username and per address; this removes the
username's recorded failures (from every address) and, with ``--ip``, the address's (for every
username), through axes' own reset, and says what it removed. axes' commands (``axes_list_attempts``,
``axes_reset``, ``axes_reset_ip``, ``axes_reset_username``) do the same in bulk.
"""

import ipaddress

from axes.models import AccessAttempt
from axes.utils import reset
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Sum


class Command(BaseCommand):
    help = "Unlock an admin sign-in locked out by failed attempts: the username's failures, and with --ip an address's."

    def add_arguments(self, parser):
        parser.add_argument("username", help="The username to unlock (as typed on the sign-in page).")
        parser.add_argument("--ip", help="Also unlock this client address (IPv4 or IPv6), for every username.")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be removed; remove nothing.")

    def handle(self, *args, username: str, ip: str | None, dry_run: bool, **options):
        if not username.strip():
            raise CommandError("Give the username to unlock.")
        if ip is not None:
            try:
                ip = str(ipaddress.ip_address(ip.strip()))
            except ValueError:
                raise CommandError(f"--ip {ip!r} is not an IPv4 or IPv6 address.") from None
        targets = [("username", username, f"username {username!r}")]
        if ip is not None:
            targets.append(("ip_address", ip, f"address {ip}"))
        for field, value, label in targets:
            records = AccessAttempt.objects.filter(**{field: value})
            other = "ip_address" if field == "username" else "username"
            summary = records.aggregate(failures=Sum("failures_since_start"), others=Count(other, distinct=True))
            failures, others = summary["failures"] or 0, summary["others"]
            if not failures:
                self.stdout.write(f"{label}: no failed sign-ins recorded, nothing to unlock")
                continue
            if field == "username":
                spread = f"from {others} address{'es' if others != 1 else ''}"
            else:
                spread = f"for {others} username{'s' if others != 1 else ''}"
            if dry_run:
                self.stdout.write(f"{label}: would remove {failures} failed sign-ins {spread}; nothing removed (--dry-run)")
                continue
            reset(**({"username": value} if field == "username" else {"ip": value}))
            self.stdout.write(self.style.SUCCESS(f"{label}: unlocked, removed {failures} failed sign-ins {spread}"))
