"""The official example formulas (reference/autoscale.md §B9) and two real-service ones, verbatim.

Kept in the package so tests, the benchmark and `bigcompute autoscale` docs use the same texts.
"""

from __future__ import annotations

B9_1 = """startingNumberOfVMs = 1;
maxNumberofVMs = 25;
pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);
pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second));
$TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples);
$NodeDeallocationOption = taskcompletion;
"""

B9_2 = """maxNumberofVMs = 25;
$TargetDedicatedNodes = min(maxNumberofVMs, $PreemptedNodeCount.GetSample(180 * TimeInterval_Second));
$TargetLowPriorityNodes = min(maxNumberofVMs , maxNumberofVMs - $TargetDedicatedNodes);
$NodeDeallocationOption = taskcompletion;
"""

B9_4_PYTHON = ("$curTime = time(); $workHours = $curTime.hour >= 8 && $curTime.hour < 18; $isWeekday = "
               "$curTime.weekday >= 1 && $curTime.weekday <= 5; $isWorkingWeekdayHour = $workHours && $isWeekday; "
               "$TargetDedicated = $isWorkingWeekdayHour ? 20:10;")

# Verbatim, including the missing ';' after line 7 (a doc bug, reference §B1).
B9_5 = """$totalDedicatedNodes =
    (min($CPUPercent.GetSample(TimeInterval_Minute * 10)) > 0.7) ?
    ($CurrentDedicatedNodes * 1.1) : $CurrentDedicatedNodes;
$totalDedicatedNodes =
    (avg($CPUPercent.GetSample(TimeInterval_Minute * 60)) < 0.2) ?
    ($CurrentDedicatedNodes * 0.9) : $totalDedicatedNodes;
$TargetDedicatedNodes = min(400, $totalDedicatedNodes)
$NodeDeallocationOption = taskcompletion;
"""

B9_6 = """$curTime = time();
$workHours = $curTime.hour >= 8 && $curTime.hour < 18;
$isWeekday = $curTime.weekday >= 1 && $curTime.weekday <= 5;
$isWorkingWeekdayHour = $workHours && $isWeekday;
$TargetDedicatedNodes = $isWorkingWeekdayHour ? 20:10;
$NodeDeallocationOption = taskcompletion;
"""

B9_7 = """// Get pending tasks for the past 15 minutes.
$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 15);
// If we have fewer than 70 percent data points, we use the last sample point,
// otherwise we use the maximum of last sample point and the history average.
$tasks = $samples < 70 ? max(0,$PendingTasks.GetSample(1)) : max( $PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * 15)));
// If number of pending tasks is not 0, set targetVM to pending tasks, otherwise
// half of current dedicated.
$targetVMs = $tasks > 0? $tasks:max(0, $TargetDedicatedNodes/2);
// The pool size is capped at 20, if target VM value is more than that, set it
// to 20. This value should be adjusted according to your use case.
$TargetDedicatedNodes = max(0, min($targetVMs, 20));
// Set node deallocation mode - let running tasks finish before removing a node
$NodeDeallocationOption = taskcompletion;
"""

B9_8 = """// Determine whether 70 percent of the samples have been recorded in the past
// 15 minutes; if not, use last sample
$samples = $ActiveTasks.GetSamplePercent(TimeInterval_Minute * 15);
$tasks = $samples < 70 ? max(0,$ActiveTasks.GetSample(1)) : max( $ActiveTasks.GetSample(1),avg($ActiveTasks.GetSample(TimeInterval_Minute * 15)));
// Set the number of nodes to add to one-fourth the number of active tasks
// (the TaskSlotsPerNode property on this pool is set to 4, adjust
// this number for your use case)
$cores = $TargetDedicatedNodes * 4;
$extraVMs = (($tasks - $cores) + 3) / 4;
$targetVMs = ($TargetDedicatedNodes + $extraVMs);
// Attempt to grow the number of compute nodes to match the number of active
// tasks, with a maximum of 3
$TargetDedicatedNodes = max(0,min($targetVMs,3));
// Keep the nodes active until the tasks finish
$NodeDeallocationOption = taskcompletion;
"""

# C# template with {0} = DateTime.UtcNow.ToString("r") and {1} = 4, substituted as the docs describe.
B9_9 = """$TargetDedicatedNodes = 4;
lifespan         = time() - time("Wed, 01 Jan 2025 00:00:00 GMT");
span             = TimeInterval_Minute * 60;
startup          = TimeInterval_Minute * 10;
ratio            = 50;

$TargetDedicatedNodes = (lifespan > startup ? (max($RunningTasks.GetSample(span, ratio), $ActiveTasks.GetSample(span, ratio)) == 0 ? 0 : $TargetDedicatedNodes) : 4);
"""

B9_11 = ("totalNodes=($CPUPercent.GetSamplePercent(TimeInterval_Minute*0,TimeInterval_Minute*10)<0.7?5:"
         "(min($CPUPercent.GetSample(TimeInterval_Minute*0, TimeInterval_Minute*10))>0.8?($CurrentDedicated*1.1):"
         "$CurrentDedicated));$TargetDedicated=min(100,totalNodes);")

# B9-7 on $ActiveTasks with a cap of 3 and a floor of 1: the formula behind the real 2025 results of §B8.
B9_7_CAPPED = """cappedPoolSize = 3;
$samples = $ActiveTasks.GetSamplePercent(TimeInterval_Minute * 15);
$tasks = $samples < 70 ? max(0,$ActiveTasks.GetSample(1)) : max( $ActiveTasks.GetSample(1), avg($ActiveTasks.GetSample(TimeInterval_Minute * 15)));
$targetVMs = $tasks > 0? $tasks:max(0, $TargetDedicatedNodes/2);
$TargetDedicatedNodes = max(1, min($targetVMs, cappedPoolSize));
$NodeDeallocationOption = taskcompletion;
"""

# doAzureParallel's QUEUE formula (min/max 2/10 dedicated, 5/10 low-priority, 4 tasks per node): the
# formula behind the real 2018 results of §B8 (doAzureParallel#215).
DO_AZURE_PARALLEL_QUEUE = (
    "$samples = $ActiveTasks.GetSamplePercent(TimeInterval_Minute * 15);"
    "$tasks = $samples < 70 ? max(0,$ActiveTasks.GetSample(1)) : max( $ActiveTasks.GetSample(1), "
    "avg($ActiveTasks.GetSample(TimeInterval_Minute * 15)));"
    "$maxTasksPerNode = 4;"
    "$round = $maxTasksPerNode - 1;"
    "$targetVMs = $tasks > 0? (($tasks + $round)/ $maxTasksPerNode) : max(0, $TargetDedicated/2) + 0.5;"
    "$TargetDedicatedNodes = max(2, min($targetVMs, 10));"
    "$TargetLowPriorityNodes = max(5, min($targetVMs, 10));"
    "$NodeDeallocationOption = taskcompletion;")

DOCS_EXAMPLES: dict[str, str] = {
    "B9-1": B9_1, "B9-2": B9_2, "B9-4": B9_4_PYTHON, "B9-5": B9_5, "B9-6": B9_6, "B9-7": B9_7, "B9-8": B9_8,
    "B9-9": B9_9, "B9-11": B9_11,
}
