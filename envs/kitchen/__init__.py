"""kitchen: small assistance games with a known optimum.

A human with a hidden goal (a dish, a meal, a colour) and an assistant share a kitchen.
Each step the human acts first and the assistant second (a game may put the assistant
first, :mod:`envs.kitchen.tabular`), but the assistant chooses before seeing the human's
action of that step; it sees every earlier one, never the goal, so it must infer the goal
from what the human does. Rewards are shared.

The games are small finite tables (:mod:`envs.kitchen.tabular`), so exact dynamic
programming over (step, state, belief over goals) gives the Bayes-optimal assistant for a
given human model (:mod:`envs.kitchen.solver`): the ground truth for the project's
planners. Variants (:mod:`envs.kitchen.variants`, each documented with hand-derived
values):

- ``red_blue``: make items of the human's colour; wait, then copy.
- ``meal_choice``: shared prep, one goal-dependent final step; ask or wait.
- ``cake_or_pie``: dishes that share ingredients; do the shared work, infer, then help.

The classic games of Shah et al. (2020), with their authors' rules
(:mod:`envs.kitchen.classics`): ``classic_red_blue``, ``classic_meal_choice`` and
``classic_wormy_apples`` (the last two assistant-first: the human answers within the step;
the env plays them in two turns per step, :mod:`envs.kitchen.turns`).

Human models (:mod:`envs.kitchen.humans`): ``rational``, ``greedy(epsilon)``,
``boltzmann(beta)``, ``lazy(noop_prob)``, all built on the human's solo Q-values, and
``scripted``, the game's own human where it has one.

Agents ``human_0`` and ``assistant_0``. ``parallel_env(**cfg)`` / ``env(**cfg)`` take
``variant`` (default ``cake_or_pie``), ``human`` (default ``rational``), ``history``, the
variant's and the human model's parameters by name, and the wrapper's ``render_mode``,
``max_cycles``, ``strict``. Observations, metrics and rendering: :mod:`envs.kitchen.core`.
"""

from envs.kitchen.core import KitchenCore, make_core
from envs.pettingzoo_env import module_constructors

parallel_env, env = module_constructors(make_core)

__all__ = ["KitchenCore", "env", "make_core", "parallel_env"]
