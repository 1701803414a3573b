"""The ``anpr`` command line: thin wrappers that parse arguments, call the library, print."""
