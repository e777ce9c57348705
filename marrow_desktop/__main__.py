"""`python -m marrow_desktop` is the `marrow` command."""

import sys

from marrow_desktop.cli import main

sys.exit(main())
