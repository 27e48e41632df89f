# The conformance suite (conformance.py) against the model of the seed's yaum
# slave: the checks of the behaviours yaum has, under the same test names.
# The suite's transcripts leave little room in the default 64 KB heap, and
# how little depends on the checkout's path (its qstrs): give them room.
# mpunit: heapsize=128k
import conformance

conformance.bind(__name__, conformance.YAUM, "DUCORIG_BUS", "yaum", "yaum-fast")
