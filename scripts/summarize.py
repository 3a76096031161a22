"""Summarize a sweep: ``python scripts/summarize.py runs/train-sweep/<time>``."""

from assist.cli.summarize import main

if __name__ == "__main__":
    main()
