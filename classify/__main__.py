"""`python -m classify` runs the command line."""

from classify.cli import main

if __name__ == "__main__":  # not in the worker processes of `predict --jobs`, which import it
    main()
