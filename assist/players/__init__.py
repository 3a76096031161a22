"""Players: one protocol for every seat (docs/design.md, contract 4), one module per kind.

- :mod:`~assist.players.base`: the :class:`Player` protocol, :class:`Turn`, shared plumbing.
- :mod:`~assist.players.simple`: no-op (the human-alone baseline) and uniform random.
- :mod:`~assist.players.scripted`: the scripted humans and the goal-knowing oracle.
- :mod:`~assist.players.tabular`: the kitchen games' human model, Bayes-optimal assistant
  and exact-model search.
- :mod:`~assist.players.library`: Bayes over a library of goals (and its root belief for
  the search).
- :mod:`~assist.players.policy`, :mod:`~assist.players.search`: a network's raw policy, and
  MCTS over it (the AssistanceZero assistant).
- :mod:`~assist.players.bc`: a human cloned from recordings.
- :mod:`~assist.players.llm`, :mod:`~assist.players.freetext`: the LM assistant, scoring
  actions or writing them as text.
- :mod:`~assist.players.terminal`: a person at a terminal.

Players by name (``make_player``), trained runs included, are in :mod:`assist.registry`.
"""
