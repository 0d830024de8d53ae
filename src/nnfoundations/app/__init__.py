"""The application around the wings: data readers, preprocessing, run directories, the CLI.

Import the modules themselves; this package imports nothing, so that ``nnf --help`` loads
only the CLI.
"""
