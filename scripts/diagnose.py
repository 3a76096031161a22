"""What a trained build assistant does and how far its belief can be trusted: ``python scripts/diagnose.py RUN``."""

from assist.cli.diagnose import main

if __name__ == "__main__":
    main()
