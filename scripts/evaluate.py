"""Evaluate assistants with a human model: ``python scripts/evaluate.py env.preset=tiny``."""

from assist.cli.evaluate import main

if __name__ == "__main__":
    main()
