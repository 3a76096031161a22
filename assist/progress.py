"""Progress bars that reach the log: tqdm on a terminal; when stderr is not a terminal
(``nohup``, CI, a cluster job, a pipe), the same figures as one log line every
:data:`LOG_EVERY_S` seconds, through :mod:`logging` (so into Hydra's ``<job>.log`` and
the console)."""

from __future__ import annotations

import logging
import sys

from tqdm import tqdm

LOG_EVERY_S = 30.0
"""Seconds between progress lines in a log (a terminal's bar redraws as often as tqdm likes)."""

LOG_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
"""A progress line in a log: the bar's figures without the bar."""


class LogLines:
    """A file-like sink for tqdm that logs each new line it draws (at INFO)."""

    def __init__(self, logger: logging.Logger):
        self.logger, self.last = logger, ""

    def write(self, text: str) -> None:
        line = text.strip()
        if line and line != self.last:
            self.logger.info(line)
            self.last = line

    def flush(self) -> None:
        pass


def progress_bar(total: int, desc: str, unit: str, *, enabled: bool = True, initial: int = 0, logger: logging.Logger | None = None, leave: bool = True) -> tqdm:
    """A tqdm bar over ``total`` ``unit``s: drawn on a terminal, logged every
    :data:`LOG_EVERY_S` seconds (and at the end) to ``logger`` (default: this module's)
    otherwise, silent when not ``enabled``. Use ``set_postfix(..., refresh=False)`` so that
    figures ride on the next line instead of forcing one."""
    if not enabled:
        return tqdm(total=total, initial=initial, disable=True)
    if sys.stderr.isatty():
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=leave)
    sink = LogLines(logger or logging.getLogger(__name__))
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sink, mininterval=LOG_EVERY_S, bar_format=LOG_FORMAT)
