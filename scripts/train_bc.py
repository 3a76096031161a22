"""Clone a human model from recordings: ``python scripts/train_bc.py data=runs/play``."""

from assist.cli.train_bc import main

if __name__ == "__main__":
    main()
