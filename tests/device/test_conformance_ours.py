# The conformance suite (conformance.py) against the model of our dialect on
# the simulated bus: every check.
import conformance

conformance.bind(__name__, conformance.OURS, "DUCORIG_BUS", "ours", "ours-fast")
