"""Policy-value models (docs/design.md, contract 5): the search's and the learner's only view
of a network. See :mod:`assist.models.base`."""
