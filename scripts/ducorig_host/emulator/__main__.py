"""`python -m ducorig_host.emulator`: the same as `ducorig pool`."""
from .cli import main

raise SystemExit(main())
