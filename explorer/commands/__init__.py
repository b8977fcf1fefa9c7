"""The ``anchoral`` sub-commands: one module each (``HELP``, ``add_arguments``, ``run``), loaded by :mod:`explorer.cli`."""
