# The conformance suite (conformance.py) against the model of a ducorig slave on
# the simulated bus: every check.
import conformance

conformance.bind(__name__, conformance.DUCORIG, "DUCORIG_BUS", "ducorig", "ducorig-fast")
