#!/usr/bin/env python
"""Django's command-line utility for Relance: `.venv/bin/python manage.py COMMAND`."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retargeting.settings")
    try:
        from django.core.management import execute_from_command_line
    except ModuleNotFoundError as exc:
        if exc.name != "django":
            raise
        # The system's Python, not the project's virtualenv.
        sys.stderr.write(
            f"relance: Django is not installed for {sys.executable}: run `make install`, "
            "then `.venv/bin/python manage.py ...`\n"
        )
        raise SystemExit(1) from None
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
