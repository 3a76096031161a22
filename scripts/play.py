"""Play a seat yourself, in the terminal or the browser: ``python scripts/play.py env.preset=tiny``."""

from assist.cli.play import main

if __name__ == "__main__":
    main()
