"""Subcommands of ``glidelab``, one module each.

Every module defines ``NAME`` (the subcommand), ``HELP`` (one line), ``DESCRIPTION``
(longer text that ends with an example), ``add_arguments(parser)`` and
``run(args) -> int``. Modules import heavy dependencies inside ``run`` so that
``glidelab --help`` stays fast.
"""
