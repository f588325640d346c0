"""The study-file schema, one module per job; :mod:`glidelab.study` is its public face.

- :mod:`.tables`: the typed table reader, key checks with close-name hints, defaults read
  from dataclasses (every parser below is built on it);
- :mod:`.compute`: ``[compute]``, shared by studies and sweeps;
- :mod:`.plans`: ``[[plans]]``, the members, read into ``backtest.plan.Plan``;
- :mod:`.core`: the ordinary study's tables and :class:`~.core.Study`;
- :mod:`.crypto`, :mod:`.sweep`, :mod:`.design`: the ``[crypto]`` and ``[sweep]`` sections
  and the fund-design file, each with its parser and ``--quick`` variant;
- :mod:`.files`: reading TOML, the shipped studies by name, and ``load_study``, which
  tells the kinds apart.

Imports run one way, top to bottom of this list (``files`` imports the others).
"""
