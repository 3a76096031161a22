"""How much each loss term pulls on the shared trunk of a multi-head network.

A network whose heads share a trunk learns what the largest weighted gradient asks of
that trunk: the AssistanceZero recipe's loss weights (value 0.01, goal 3) exist because
with value 0.5 and goal 1 the value term's gradient on the trunk was 77 times the goal
term's and the goal belief stopped improving. :func:`trunk_gradient_norms` measures
that balance on any batch, for any model, without knowing its layers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import torch
from torch import nn


def trunk_gradient_norms(terms: Mapping[str, torch.Tensor], weights: Mapping[str, float], parameters: Iterable[nn.Parameter]) -> dict[str, float]:
    """The L2 norm of each weighted term's gradient on the shared trunk: the parameters
    that every weighted term's graph reaches (the layers all heads share).

    terms: scalar losses of one forward pass (their graphs are kept, so the caller can
    still backpropagate their sum); weights: each term's weight (a term weighted 0 pulls
    on nothing and is left out); parameters: the model's. Returns ``{term: norm}``, all 0
    if the weighted terms share no parameter."""
    parameters = [p for p in parameters if p.requires_grad]
    weighted = {key: weights[key] * loss for key, loss in terms.items() if weights[key] != 0}
    grads = {key: torch.autograd.grad(loss, parameters, retain_graph=True, allow_unused=True) for key, loss in weighted.items()}
    trunk = [i for i in range(len(parameters)) if all(g[i] is not None for g in grads.values())]
    return {key: math.sqrt(sum(float(g[i].pow(2).sum()) for i in trunk)) for key, g in grads.items()}
