# The conformance suite (conformance.py) against the model of our dialect on
# the simulated bus: every check.
# The suite's transcripts leave little room in the default 64 KB heap, and
# how little depends on the checkout's path (its qstrs): give them room.
# mpunit: heapsize=128k
import conformance

conformance.bind(__name__, conformance.OURS, "DUCORIG_BUS", "ours", "ours-fast")
