"""``python -m photostyle``: the ``photostyle`` command."""

import sys

from .cli import main

sys.exit(main())
