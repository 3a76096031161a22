"""Train a behaviour-cloning human from recordings: ``python scripts/train_bc.py data=<folder>``.

The run directory is the model folder (``model.safetensors`` and ``bc.json``, which holds
the game, the sizes and the held-out accuracy beside the most-common-action baseline);
play it with ``human=bc human.params.path=<run directory>``. A directory that already
holds a model is refused, never overwritten.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from assist import config as schemas
from assist.cli import CONFIG_DIR, one_line_errors, set_threads
from assist.learning import bc
from assist.models import bc as bc_models

log = logging.getLogger(__name__)


def run(cfg: DictConfig, out_dir: Path) -> dict:
    """Train as ``cfg`` says and save the model into ``out_dir``; the training metrics. Before
    any work, a FileExistsError when ``out_dir`` already holds a model (never replaced), and a
    :class:`~assist.config.ConfigError` naming the key when a setting is out of range."""
    held = [name for name in (bc_models.WEIGHTS, bc_models.CONFIG) if (out_dir / name).exists()]
    if held:
        raise FileExistsError(f"{out_dir} already holds a model ({', '.join(held)}); point hydra.run.dir at a new directory, or delete them first")
    schemas.checked(cfg)
    fit = schemas.to_dataclass(bc.BCTrainConfig, cfg.fit)
    set_threads(cfg.threads)
    files = bc.recording_files(cfg.data)
    core, options, steps = bc.human_steps(files)
    log.info(f"{len(steps.action)} human steps from {len(set(steps.episode.tolist()))} episodes in {len(files)} recording(s) of {core.name} {options}")
    net, metrics = bc.train(core, steps, fit, log=log.info)
    bc_models.save(out_dir, net, core, options, {**metrics, "data": [str(f) for f in files]})
    log.info(json.dumps({key: metrics[key] for key in ("accuracy", "baseline", "loss")}))
    log.info(f"saved to {out_dir}: play it with human=bc human.params.path={out_dir}")
    return metrics


@hydra.main(config_path=CONFIG_DIR, config_name="train_bc", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with one_line_errors(FileExistsError):
        run(cfg, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main()
