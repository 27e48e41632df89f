# The conformance suite (conformance.py) against the model of the seed's yaum
# slave: the checks of the behaviours yaum has, under the same test names.
import conformance

conformance.bind(__name__, conformance.YAUM, "DUCORIG_BUS", "yaum", "yaum-fast")
