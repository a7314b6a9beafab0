"""``python -m planner`` runs the CLI."""

import sys

from planner.cli.main import main

sys.exit(main())
