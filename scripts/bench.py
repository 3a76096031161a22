"""Benchmarks as JSON lines: ``python scripts/bench.py env``."""

from assist.cli.bench import main

if __name__ == "__main__":
    main()
