"""The hostile submissions are data for the grader: never imported, collected or linted."""

collect_ignore_glob = ["hostile/*"]
