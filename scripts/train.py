"""Train an assistant: ``python scripts/train.py env.preset=tiny algo.iterations=50``."""

from assist.cli.train import main

if __name__ == "__main__":
    main()
