"""Subcommands of the `composer` command line, one module each."""
