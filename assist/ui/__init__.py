"""People at the controls: a game session that players submit actions to and a tick
applies (:mod:`assist.ui.session`), a terminal view (:mod:`assist.ui.terminal`), a
local browser server for one seat (:mod:`assist.ui.server`, over :mod:`assist.ui.web`)
and a study server that gives each of several participants their own session
(:mod:`assist.ui.study_server`, over :mod:`assist.ui.study`)."""
