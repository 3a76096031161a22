"""Learning: self-play, the replay buffer, losses and the AssistanceZero training loop
(DESIGN.md, contract 7)."""
