"""The table of algorithms (assist.learning.algorithms): each entry's schema, trainer and parts agree."""

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from assist.cli import CONFIG_DIR
from assist.learning.algorithms import ALGORITHMS, PARTS
from assist.learning.trainer import Trainer


def own_constructor(cls: type):
    """The ``__init__`` that decides ``cls``'s parameters: the first in its MRO that does
    not pass ``*args`` on to its base's."""
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None and not any(p.kind is p.VAR_POSITIONAL for p in inspect.signature(init).parameters.values()):
            return init
    raise AssertionError(f"{cls.__name__} has no constructor of its own")


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_each_algorithm_has_its_schema_named_after_it_and_a_config_file(name):
    assert ALGORITHMS[name].config().name == name
    assert (Path(CONFIG_DIR) / "algo" / f"{name}.yaml").is_file()


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_each_trainer_is_built_from_its_context_settings_and_the_parts_its_entry_names(name):
    algorithm = ALGORITHMS[name]
    trainer = algorithm.trainer_class()
    assert issubclass(trainer, Trainer) and set(algorithm.parts) <= set(PARTS)
    inspect.signature(own_constructor(trainer)).bind(None, context=None, config=None, **dict.fromkeys(algorithm.parts))


def test_the_config_store_and_the_train_cli_do_not_import_transformers():
    code = "import sys, assist.config, assist.cli.train; assert 'transformers' not in sys.modules, 'transformers imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
