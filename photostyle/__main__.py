"""``python -m photostyle`` and the ``photostyle`` console script.

Ctrl-C or SIGTERM while the command starts (its imports, before a subcommand handles them) ends
it with one line and exit status 130 or 143, not a traceback.
"""

import sys


def main() -> int:
    """Entry point: :func:`photostyle.cli.main` with interrupts during start-up handled."""
    from .interrupts import interrupt_status, interrupt_word, signals_as_interrupts  # stdlib

    try:
        with signals_as_interrupts():
            from .cli import main as cli_main

            return cli_main()
    except KeyboardInterrupt as exc:
        status = interrupt_status(exc)
        print(f"photostyle: {interrupt_word(status)}; nothing written", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
