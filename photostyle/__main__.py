"""``python -m photostyle``."""

import sys

from .cli import main

sys.exit(main())
