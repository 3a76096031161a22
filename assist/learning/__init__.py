"""Learning: self-play, the replay buffer, losses and the AssistanceZero training loop
(docs/design.md, contract 7)."""
