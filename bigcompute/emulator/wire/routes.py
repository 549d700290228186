"""The route table: (method, path) -> handler. Paths are Batch's data-plane paths (§A3)."""

from __future__ import annotations

from starlette.routing import Route

from bigcompute.emulator.wire import account_handlers as ah
from bigcompute.emulator.wire import handlers as h
from bigcompute.emulator.wire import node_extensions as ext
from bigcompute.emulator.wire import node_user_handlers as nu
from bigcompute.emulator.wire import schedule_handlers as sh
from bigcompute.emulator.wire import unsupported

_J, _T, _P = "/jobs/{job_id}", "/jobs/{job_id}/tasks/{task_id}", "/pools/{pool_id}"
_N = f"{_P}/nodes/{{node_id}}"
_S = "/jobschedules/{schedule_id}"

ROUTES: list[tuple[str, str, object]] = [
    ("POST", "/pools", h.create_pool),
    ("GET", "/pools", h.list_pools),
    ("GET", _P, h.get_pool),
    ("HEAD", _P, h.get_pool),
    ("PATCH", _P, h.update_pool),
    ("DELETE", _P, h.delete_pool),
    ("POST", f"{_P}/updateproperties", h.replace_pool_properties),
    ("POST", f"{_P}/resize", h.resize_pool),
    ("POST", f"{_P}/stopresize", h.stop_resize),
    ("POST", f"{_P}/enableautoscale", h.enable_autoscale),
    ("POST", f"{_P}/disableautoscale", h.disable_autoscale),
    ("POST", f"{_P}/evaluateautoscale", h.evaluate_autoscale),
    ("GET", f"{_P}/nodes", h.list_nodes),
    ("GET", _N, h.get_node),
    ("POST", f"{_P}/removenodes", h.remove_nodes),
    ("POST", f"{_N}/reboot", h.reboot_node),
    ("POST", f"{_N}/reimage", h.reimage_node),
    ("POST", f"{_N}/deallocate", h.deallocate_node),
    ("POST", f"{_N}/start", h.start_node),
    ("POST", f"{_N}/disablescheduling", h.disable_scheduling),
    ("POST", f"{_N}/enablescheduling", h.enable_scheduling),
    ("POST", f"{_N}/uploadbatchservicelogs", h.upload_node_logs),
    ("POST", f"{_N}/users", nu.create_node_user),
    ("PUT", f"{_N}/users/{{user}}", nu.replace_node_user),
    ("DELETE", f"{_N}/users/{{user}}", nu.delete_node_user),
    ("GET", f"{_N}/remoteloginsettings", h.not_on_local_nodes),
    ("GET", f"{_N}/extensions", ext.list_node_extensions),
    ("GET", f"{_N}/extensions/{{extension}}", ext.get_node_extension),
    ("GET", "/poolusagemetrics", ah.pool_usage_metrics),
    ("GET", f"{_N}/files", h.list_files),
    ("GET", f"{_N}/files/{{file_path:path}}", h.one_file),
    ("HEAD", f"{_N}/files/{{file_path:path}}", h.one_file),
    ("DELETE", f"{_N}/files/{{file_path:path}}", h.one_file),
    ("POST", f"/_emulator{_P}/nodes/{{node_id}}/unusable", h.make_node_unusable),
    ("POST", f"/_emulator{_P}/resizeerror", h.fail_next_resize),
    ("GET", "/nodecounts", h.node_counts),
    ("GET", "/supportedimages", h.supported_images),
    ("GET", "/applications", ah.list_applications),
    ("GET", "/applications/{application_id}", ah.get_application),
    ("PUT", "/_emulator/applications/{application_id}/versions/{version}", ah.put_package),
    ("POST", "/jobs", h.create_job),
    ("GET", "/jobs", h.list_jobs),
    ("GET", _J, h.get_job),
    ("PATCH", _J, h.patch_job),
    ("PUT", _J, h.replace_job),
    ("DELETE", _J, h.delete_job),
    ("POST", f"{_J}/terminate", h.terminate_job),
    ("POST", f"{_J}/disable", h.disable_job),
    ("POST", f"{_J}/enable", h.enable_job),
    ("GET", f"{_J}/taskcounts", h.task_counts),
    ("GET", f"{_J}/jobpreparationandreleasetaskstatus", h.prep_release_status),
    ("POST", f"{_J}/tasks", h.create_task),
    ("POST", f"{_J}/addtaskcollection", h.add_task_collection),
    ("GET", f"{_J}/tasks", h.list_tasks),
    ("GET", _T, h.get_task),
    ("PUT", _T, h.replace_task),
    ("DELETE", _T, h.delete_task),
    ("POST", f"{_T}/terminate", h.terminate_task),
    ("POST", f"{_T}/reactivate", h.reactivate_task),
    ("GET", f"{_T}/subtasksinfo", h.list_subtasks),
    ("GET", f"{_T}/files", h.list_files),
    ("GET", f"{_T}/files/{{file_path:path}}", h.one_file),
    ("HEAD", f"{_T}/files/{{file_path:path}}", h.one_file),
    ("DELETE", f"{_T}/files/{{file_path:path}}", h.one_file),
    *unsupported.ROUTES,
    ("POST", "/jobschedules", sh.create_schedule),
    ("GET", "/jobschedules", sh.list_schedules),
    ("GET", _S, sh.get_schedule),
    ("HEAD", _S, sh.get_schedule),
    ("PATCH", _S, sh.patch_schedule),
    ("PUT", _S, sh.replace_schedule),
    ("DELETE", _S, sh.delete_schedule),
    ("POST", f"{_S}/terminate", sh.terminate_schedule),
    ("POST", f"{_S}/disable", sh.disable_schedule),
    ("POST", f"{_S}/enable", sh.enable_schedule),
    ("GET", f"{_S}/jobs", sh.list_schedule_jobs),
]


def starlette_routes() -> list[Route]:
    # One Route per (method, path): Starlette would otherwise answer HEAD for every GET route by itself.
    return [Route(path, endpoint, methods=[method]) for method, path, endpoint in ROUTES]  # type: ignore[arg-type]
