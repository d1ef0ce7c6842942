"""Sub-commands of the ``modspec`` command line, one module each."""
