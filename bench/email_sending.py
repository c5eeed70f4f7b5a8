"""The email-sending benchmark, run by `make bench` (and at a tiny size by `make test`, on
either database); prints its figures as JSON.

A local SMTP server (aiosmtpd on 127.0.0.1, in a process of its own, as a provider is)
receives, side by side from this one process:

1. a bare loop of Python's ``smtplib`` sending COUNT messages over one connection: the same
   message Relance sends (its subject, text and HTML parts, its one-click headers), to a new
   address each time: the reference;
2. Relance delivering COUNT planned email reminders of a shop (the email step of a flow, to
   contacts with email consent) through its send path: ``deliver_batch`` in batches of
   ``SEND_BATCH``, each claimed, checked, rendered and saved, each email marked as handed
   to the provider before its call, over one SMTP connection per batch.

Each side first runs one batch untimed (``WARM_UP`` messages). The ratio of the two rates is
what Relance's own work costs beside the SMTP conversation (target: at least 0.5).

Usage (bench/run.py does this): python bench/email_sending.py COUNT
(``python bench/email_sending.py --serve`` is the SMTP server's process.)
"""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retargeting.settings")


def serve() -> None:
    """The SMTP server's process: prints ``host port``, serves until its input ends, then
    prints how many messages it received."""
    from tests.support.smtp_server import SmtpServer

    with SmtpServer() as server:
        print(server.host, server.port, flush=True)
        sys.stdin.read()
        print(len(server.messages), flush=True)


class SmtpProcess:
    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.host, self.port = "", 0

    def __enter__(self) -> SmtpProcess:
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        host, port = self._process.stdout.readline().split()
        self.host, self.port = host, int(port)
        return self

    def received(self) -> int:
        """Stop the server; the messages it received."""
        assert self._process is not None and self._process.stdin and self._process.stdout
        self._process.stdin.close()
        count = int(self._process.stdout.readline().strip() or 0)
        self._process.wait(timeout=30)
        return count

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=30)


def main() -> None:
    import django

    django.setup()

    from django.conf import settings
    from django.utils import timezone

    from bench.shop import bench_shop
    from campaigns.dispatch import run_pass
    from campaigns.email_messages import render_email
    from campaigns.models import Send, SendStatus, StepChannel
    from campaigns.sending import SEND_BATCH, deliver_batch
    from optin.models import ConsentStatus, Contact, VisitorLink
    from retargeting.channels import Channel
    from retargeting.channels.rooms import room
    from retargeting.sites.models import QuietHours, Site
    from retargeting.tracking.models import Cart, Visitor

    warm_up = SEND_BATCH
    count = int(sys.argv[1])
    total = warm_up + count
    site = bench_shop("Email bench").site
    site.email_from = "Boutique <bonjour@boutique.example>"
    site.postal_address = "3 rue des Lilas, 75011 Paris"
    site.save(update_fields=["email_from", "postal_address"])
    step = site.flows.get().steps.get()
    step.channel = StepChannel.EMAIL
    step.subject = "{{ shop }} : votre panier vous attend"
    step.save(update_fields=["channel", "subject"])

    # The shop's contacts with email consent (no number), each with a cart left 3 hours ago.
    idle, now = timezone.now() - timedelta(hours=3), timezone.now()
    visitors = Visitor.objects.bulk_create(
        Visitor(
            site=site, vid=f"bench-email-{site.pk}-{n:08d}", first_seen_at=idle, last_seen_at=idle
        )
        for n in range(total)
    )
    contacts = Contact.objects.bulk_create(
        Contact(
            site=site,
            phone="",
            email=f"client{n}@example.org",
            first_name="Marie",
            region="FR",
            email_consent_status=ConsentStatus.CONFIRMED,
        )
        for n in range(total)
    )
    VisitorLink.objects.bulk_create(
        VisitorLink(visitor=visitor, contact=contact, method="server", linked_at=now)
        for visitor, contact in zip(visitors, contacts, strict=True)
    )
    items = [{"sku": "A1", "name": "Chemise", "price": "29.95", "quantity": 2}]
    Cart.objects.bulk_create(
        Cart(
            site=site,
            visitor=visitor,
            external_id=f"cart-{visitor.pk}",
            status=Cart.Status.OPEN,
            currency="EUR",
            total="59.90",
            item_count=2,
            items=items,
            url="https://shop.example/panier",
            created_at=idle,
            last_change_at=idle,
        )
        for visitor in visitors
    )
    Site.objects.filter(pk=site.pk).update(quiet_hours=QuietHours.NONE)
    report = run_pass()  # plans them (quiet hours off: due at once), sends nothing
    planned = list(
        Send.objects.filter(site=site, status=SendStatus.PLANNED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    assert len(planned) == total == report.planned, (len(planned), total, report.planned)

    with SmtpProcess() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_MPS = 0  # the sender's rate is the shop's choice, not what is measured

        # Relance's warm-up batch first: its first send gives the message the bare loop sends.
        outcomes: Counter[str] = Counter()
        outcomes.update(deliver_batch(send_ids=planned[:warm_up]).values())
        sample = Send.objects.select_related("site", "cart", "contact", "step__flow").get(
            pk=planned[0]
        )
        email, _ = render_email(sample, link=sample.short_link, unsubscribe=sample.opt_out_link)
        sender = room(Channel.EMAIL).sender(site)

        def message(n: int) -> EmailMessage:
            built = EmailMessage()
            built["Subject"], built["From"] = sample.subject, sender
            built["To"] = f"bare{n}@example.org"
            for name, value in email.headers.items():
                built[name] = value
            built.set_content(sample.body)
            if email.html:
                built.add_alternative(email.html, subtype="html")
            return built

        def bare_loop(first: int, last: int) -> None:
            with smtplib.SMTP(server.host, server.port) as client:
                for n in range(first, last):
                    client.send_message(message(n))

        bare_loop(0, warm_up)
        started = time.perf_counter()
        bare_loop(warm_up, total)
        bare = time.perf_counter() - started

        chosen = planned[warm_up:]
        timed: Counter[str] = Counter()
        started = time.perf_counter()
        for start in range(0, len(chosen), SEND_BATCH):
            timed.update(deliver_batch(send_ids=chosen[start : start + SEND_BATCH]).values())
        relance = time.perf_counter() - started
        received = server.received()
    bare_rate, relance_rate = count / bare, timed["accepted"] / relance
    print(
        json.dumps(
            {
                "email_one_process_count": count,
                "email_one_process_warm_up": outcomes["accepted"],
                "email_one_process_accepted": timed["accepted"],
                "email_smtp_received": received,
                "bare_smtplib_emails_per_second": round(bare_rate, 1),
                "email_one_process_per_second": round(relance_rate, 1),
                "email_send_vs_bare_smtplib": round(relance_rate / bare_rate, 3),
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        main()
