"""Compare trained assistants with the baselines: ``python scripts/compare.py RUN... --out DIR``."""

from assist.cli.compare import main

if __name__ == "__main__":
    main()
