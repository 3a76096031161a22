"""People at the controls: a game session that players submit actions to and a tick
applies (:mod:`assist.ui.session`), a terminal view (:mod:`assist.ui.terminal`) and a
local browser server (:mod:`assist.ui.server`) over it."""
