"""The LM assistant: a Hugging Face causal LM behind the policy-value model protocol.

One job per module:

- :mod:`~assist.llm.tokenizer`: the word-level tokenizer over the games' own text, and a byte-level BPE trained on it.
- :mod:`~assist.llm.lm`: the default small Llama (or GPT-2, Qwen2), and loading any local model directory.
- :mod:`~assist.llm.scoring`: log-likelihoods of candidate token sequences after prompts
  (prompt encoded once, keys and values cached), and the uncached reference.
- :mod:`~assist.llm.encoding`: a game's prompts and actions as token ids.
- :mod:`~assist.llm.heads`: value, goal-belief and human-action heads, saved beside the LM.
- :mod:`~assist.llm.policy`: the LM and its heads as one differentiable module (learning).
- :mod:`~assist.llm.evaluator`: the same as the search's numpy Evaluator.

The players (``llm``, ``llm_text``) are in :mod:`assist.players.llm` and :mod:`assist.players.freetext`.
"""
