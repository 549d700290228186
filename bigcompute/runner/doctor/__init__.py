"""`bigcompute doctor`: why nodes are unusable, why nothing runs. `diagnose()` returns a report of findings."""

from bigcompute.runner.doctor.diagnose import diagnose
from bigcompute.runner.doctor.findings import FAIL, OK, WARN, DoctorReport, Finding

__all__ = ["FAIL", "OK", "WARN", "DoctorReport", "Finding", "diagnose"]
