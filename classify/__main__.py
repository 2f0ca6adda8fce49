"""`python -m classify` runs the command line."""

from classify.cli import main

main()
