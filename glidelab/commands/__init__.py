"""Subcommands of ``glidelab``, one module each.

Every module defines ``NAME`` (the subcommand), ``HELP`` (one line), ``DESCRIPTION``
(longer text that ends with an example), ``add_arguments(parser)`` and
``run(args) -> int``, and ``COMPILES = True`` when it runs the simulator (``glidelab.cli``
then prints a one-line notice before a first, cold compile). Modules import heavy
dependencies inside ``run`` so that ``glidelab --help`` stays fast.

Conventions (``glidelab.progress`` has the helpers): a ``--quiet`` flag; progress bars
through ``show_progress`` (a terminal only); a command writing single result files
refuses to replace one without ``--force`` (``refuse_overwrite``), and a command writing
its own whole folder replaces it atomically; the ``DESCRIPTION`` says which.
"""
