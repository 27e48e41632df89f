"""ducorig host tools (CPython): the `ducorig` command and its subcommands."""
