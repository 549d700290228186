"""The job schedules' driver: on the emulator's clock (durations divided by --time-scale) it creates each
recurrence's job when it is due and the previous one has finished, drops a recurrence whose start window
closed, completes schedules with nothing left to run, and carries terminate and delete through to the
schedule's jobs. One thread, a pass every TICK."""

from __future__ import annotations

import logging
import math
import threading

from bigcompute.emulator.core.errors import BatchError
from bigcompute.emulator.state.models import JobDoc, JobScheduleDoc, JobScheduleState, JobState
from bigcompute.emulator.state.stores import Stores

log = logging.getLogger("bigcompute.emulator")
TICK = 0.1
S = JobScheduleState


class Recurrence:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="emulator-schedules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(TICK):
            try:
                self.tick()
            except Exception:
                log.exception("job schedule pass failed")

    def tick(self) -> None:
        if not self.stores.schedules.any_unsettled():
            return
        now = self.stores.ctx.clock()
        with self.stores.tx():
            for doc in self.stores.schedules.unsettled():
                state = doc["state"]
                if state == S.ACTIVE:
                    self._active(doc, now)
                elif state == S.TERMINATING:
                    self._terminating(doc)
                elif state == S.DELETING:
                    self._deleting(doc)

    # --- an active schedule ------------------------------------------------------------------------------
    def _active(self, doc: JobScheduleDoc, now: float) -> None:
        store = self.stores.schedules
        busy = store.busy_job(doc)
        before = doc.get("_due")
        after = store.deadline(doc)
        if after is not None and now > after:  # "no Job will be created" past doNotRunAfter
            store.set_due(doc, None)
        due = doc.get("_due")
        ran = False
        if due is not None and now >= due:
            due = self._open_recurrence(doc, due, now)
            store.set_due(doc, due)
            if due is not None and now >= due and busy is None:
                busy = self._run(doc, due)
                ran = True
        if doc.get("_due") is None and busy is None:
            store.finish(doc)
        elif ran or doc.get("_due") != before:
            store.save(doc, touched=False)

    def _run(self, doc: JobScheduleDoc, due: float) -> JobDoc | None:
        """Create the recurrence's job; the next recurrence is an interval after this one's due time."""
        store = self.stores.schedules
        interval = store.scaled(doc["schedule"], "recurrenceInterval")
        job = None
        try:
            job = store.run(doc, due)
        except BatchError as err:  # e.g. a specification the job store refuses: this recurrence is lost
            log.warning("job schedule %s could not create its job: %s", doc["id"], err)
        store.set_due(doc, due + interval if interval else None)
        return job

    def _open_recurrence(self, doc: JobScheduleDoc, due: float, now: float) -> float | None:
        """The recurrence whose start window is open at `now` (or still ahead), None when the schedule does not
        recur and its one window closed. "If the startWindow is longer than the recurrence interval, then this
        is equivalent to an infinite startWindow, because the Job that is 'due' in one recurrenceInterval is not
        carried forward into the next" (BatchJobScheduleConfiguration.startWindow)."""
        store = self.stores.schedules
        interval = store.scaled(doc["schedule"], "recurrenceInterval")
        window = store.scaled(doc["schedule"], "startWindow")
        limit = min((x for x in (window, interval) if x), default=math.inf)
        if now <= due + limit:
            return due
        if not interval:
            return None
        due += math.floor((now - due) / interval) * interval
        return due + interval if now > due + limit else due

    # --- terminate and delete -------------------------------------------------------------------------------
    def _terminating(self, doc: JobScheduleDoc) -> None:
        """Terminating ends the schedule's active job; the schedule completes once that job has."""
        busy = self.stores.schedules.busy_job(doc)
        if busy is None:
            self.stores.schedules.finish(doc)
        elif busy["state"] in (JobState.ACTIVE, JobState.DISABLED):
            self.stores.jobs.request_terminate(busy["id"], "TerminateJobSchedule")

    def _deleting(self, doc: JobScheduleDoc) -> None:
        """Deleting deletes every job of the schedule; the schedule goes when the last of them has."""
        jobs = self.stores.schedules.jobs_of(doc["id"])
        if not jobs:
            self.stores.schedules.purge(doc["id"])
            return
        for job in jobs:
            if job["state"] in (JobState.ACTIVE, JobState.DISABLED, JobState.COMPLETED, JobState.TERMINATING):
                self.stores.jobs.request_delete(job["id"])
