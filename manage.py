#!/usr/bin/env python
"""Django's command-line utility for Holdfast."""

import sys


def main() -> None:
    from config.env import configure

    configure()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
