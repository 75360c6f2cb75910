"""Pure parts of the deploy layer: plan diff lines, outcomes, task events, inventory rows."""

from __future__ import annotations

import pytest

from mlctl.deploy.diff import desired_words, diff_lines, plan_summary
from mlctl.deploy.events import describe_failure, event_words, is_failing
from mlctl.deploy.inventory import gpu_summary, model_row, node_gpus
from mlctl.deploy.lifecycle import choose_alloc, job_id, rollback_target
from mlctl.deploy.outcome import Outcome, awaiting_promotion, progress_rows, settled
from mlctl.errors import Conflict, ExitStatus, InvalidInput, NotFound

EDIT_PLAN = {
    "Diff": {
        "Type": "Edited",
        "ID": "mlctl-iris",
        "Fields": [{"Type": "None", "Name": "Priority", "Old": "50", "New": "50"}],
        "Objects": [
            {
                "Type": "Edited",
                "Name": "Meta",
                "Fields": [
                    {"Type": "Edited", "Name": "mlctl.version", "Old": "1.0.0", "New": "1.1.0"},
                    {"Type": "Added", "Name": "mlctl.deployed_by", "Old": "", "New": "ana"},
                ],
            }
        ],
        "TaskGroups": [
            {
                "Type": "Edited",
                "Name": "model",
                "Fields": [{"Type": "Edited", "Name": "Count", "Old": "1", "New": "2"}],
                "Tasks": [
                    {
                        "Type": "Edited",
                        "Name": "server",
                        "Annotations": ["forces create/destroy update"],
                        "Objects": [
                            {
                                "Type": "Edited",
                                "Name": "Resources",
                                "Fields": [
                                    {"Type": "Deleted", "Name": "Cores", "Old": "2", "New": ""}
                                ],
                            }
                        ],
                    }
                ],
            }
        ],
    },
    "Annotations": {
        "DesiredTGUpdates": {"model": {"Place": 1, "DestructiveUpdate": 1, "Ignore": 0}}
    },
    "JobModifyIndex": 17,
}


def test_edited_plan_shows_only_changes_with_marks():
    assert diff_lines(EDIT_PLAN) == [
        '~ job "mlctl-iris"',
        "    ~ Meta {",
        '        ~ mlctl.version: "1.0.0" => "1.1.0"',
        '        + mlctl.deployed_by: "ana"',
        "      }",
        '  ~ group "model" (place 1, replace 1)',
        '      ~ Count: "1" => "2"',
        '    ~ task "server" (forces create/destroy update)',
        "        ~ Resources {",
        '            - Cores: "2"',
        "          }",
    ]


def test_new_job_lists_groups_and_tasks_without_every_field():
    plan = {
        "Diff": {
            "Type": "Added",
            "ID": "mlctl-iris",
            "Fields": [{"Type": "Added", "Name": "Type", "New": "service"}],
            "TaskGroups": [
                {"Type": "Added", "Name": "model", "Tasks": [{"Type": "Added", "Name": "server"}]}
            ],
        },
        "Annotations": {"DesiredTGUpdates": {"model": {"Place": 2}}},
    }
    assert diff_lines(plan) == [
        '+ job "mlctl-iris" (new)',
        '  + group "model" (place 2)',
        '    + task "server"',
    ]
    assert '    + Type: "service"' in diff_lines(plan, verbose=True)


def test_desired_words_and_summary():
    assert desired_words({"Ignore": 3}) == "no change"
    assert desired_words({"Canary": 1, "Stop": 2}) == "canary 1, stop 2"
    summary = plan_summary(EDIT_PLAN)
    assert summary["change"] == "edited" and summary["job_modify_index"] == 17


def deployment(status="running", description="Deployment is running", **group):
    base = {"DesiredTotal": 2, "PlacedAllocs": 2, "HealthyAllocs": 1, "UnhealthyAllocs": 0}
    return {
        "ID": "d-1",
        "Status": status,
        "StatusDescription": description,
        "TaskGroups": {"model": {**base, **group}},
    }


@pytest.mark.parametrize(
    ("dep", "outcome"),
    [
        (deployment(), None),
        (deployment("successful", "Deployment completed successfully"), Outcome.SUCCESSFUL),
        (
            deployment(
                "failed", "Failed due to unhealthy allocations - rolling back to job version 2"
            ),
            Outcome.REVERTED,
        ),
        (
            deployment(
                "failed",
                "Failed due to unhealthy allocations - no stable job version to auto revert to",
            ),
            Outcome.FAILED,
        ),
        (
            deployment(DesiredCanaries=1, PlacedCanaries=["a"], HealthyAllocs=1),
            Outcome.AWAITING_PROMOTION,
        ),
        (deployment(DesiredCanaries=1, PlacedCanaries=["a"], HealthyAllocs=0), None),
    ],
)
def test_settled_outcomes(dep, outcome):
    assert settled(dep) is outcome


def test_outcome_exit_statuses_are_distinct():
    assert Outcome.REVERTED.exit_status is ExitStatus.DEPLOY_REVERTED
    assert Outcome.FAILED.exit_status is ExitStatus.DEPLOY_FAILED
    assert Outcome.TIMED_OUT.exit_status is ExitStatus.TIMEOUT
    assert Outcome.SUCCESSFUL.exit_status is ExitStatus.OK


def test_progress_rows_show_canaries():
    dep = deployment(DesiredCanaries=2, PlacedCanaries=["a"], Promoted=False)
    assert progress_rows(dep)[0]["canaries"] == "1/2"
    assert not awaiting_promotion(dep)


@pytest.mark.parametrize(
    ("event", "words"),
    [
        (
            {"Type": "Driver Failure", "DriverError": "image not found"},
            "driver error: image not found",
        ),
        (
            {"Type": "Terminated", "ExitCode": 137, "Details": {"oom_killed": "true"}},
            "killed: out of memory (raise resources.memory)",
        ),
        ({"Type": "Terminated", "ExitCode": 3}, "exited with code 3"),
        ({"Type": "Terminated", "ExitCode": 0}, None),
        (
            {"Type": "Failed Artifact Download", "DownloadError": "checksum mismatch"},
            "could not download the bundle: checksum mismatch",
        ),
        (
            {
                "Type": "Not Restarting",
                "DisplayMessage": "Exceeded allowed attempts 2 in interval 30m0s",
            },
            "not restarting: Exceeded allowed attempts 2 in interval 30m0s",
        ),
        ({"Type": "Started", "DisplayMessage": "Task started by client"}, None),
    ],
)
def test_event_words(event, words):
    assert event_words(event) == words


def test_describe_failure_deduplicates_repeated_crashes():
    alloc = {
        "ID": "0123456789ab",
        "NodeName": "gpu-1",
        "ClientStatus": "failed",
        "TaskStates": {
            "server": {
                "Failed": True,
                "Events": [
                    {"Type": "Terminated", "ExitCode": 1},
                    {"Type": "Restarting"},
                    {"Type": "Terminated", "ExitCode": 1},
                    {"Type": "Not Restarting", "DisplayMessage": "Exceeded allowed attempts"},
                ],
            }
        },
    }
    (failure,) = describe_failure(alloc)
    assert failure.text == (
        "alloc 01234567 on gpu-1 (task server): exited with code 1; "
        "not restarting: Exceeded allowed attempts"
    )
    assert is_failing(alloc)
    assert not is_failing({"ClientStatus": "running", "DeploymentStatus": {"Healthy": None}})


GPU_JOB = {
    "ID": "mlctl-bert",
    "Version": 4,
    "Status": "running",
    "Meta": {"mlctl.model": "bert", "mlctl.version": "2.0"},
    "TaskGroups": [
        {
            "Name": "model",
            "Count": 2,
            "Tasks": [{"Resources": {"Devices": [{"Name": "nvidia/gpu", "Count": 1}]}}],
        }
    ],
}


def running(alloc_id, healthy, device_ids=()):
    return {
        "ID": alloc_id,
        "DesiredStatus": "run",
        "ClientStatus": "running",
        "DeploymentStatus": {"Healthy": healthy},
        "AllocatedResources": {
            "Tasks": {
                "server": {
                    "Devices": [
                        {
                            "Vendor": "nvidia",
                            "Type": "gpu",
                            "Name": "Tesla T4",
                            "DeviceIDs": list(device_ids),
                        }
                    ]
                }
            }
        },
    }


def test_model_row_counts_and_endpoints():
    allocs = [
        running("a", True),
        running("b", None),
        {"ID": "c", "DesiredStatus": "stop", "ClientStatus": "complete"},
    ]
    services = [{"Address": "10.0.0.5", "Port": 25001}, {"Address": "10.0.0.6", "Port": 25002}]
    row = model_row(GPU_JOB, allocs, services)
    assert row == {
        "model": "bert",
        "version": "2.0",
        "job": "mlctl-bert",
        "job_version": 4,
        "status": "running",
        "desired": 2,
        "running": 2,
        "healthy": 1,
        "gpus": 2,
        "endpoints": ["http://10.0.0.5:25001", "http://10.0.0.6:25002"],
    }


def test_node_gpus_allocated_and_free():
    node = {
        "NodeResources": {
            "Devices": [
                {
                    "Vendor": "nvidia",
                    "Type": "gpu",
                    "Name": "Tesla T4",
                    "Attributes": {"memory": {"Int": 16384, "Unit": "MiB"}},
                    "Instances": [
                        {"ID": "GPU-1", "Healthy": True},
                        {"ID": "GPU-2", "Healthy": True},
                        {"ID": "GPU-3", "Healthy": False},
                    ],
                }
            ]
        }
    }
    stopped = {**running("old", True, ["GPU-2"]), "DesiredStatus": "stop"}
    gpus = node_gpus(node, [running("a", True, ["GPU-1"]), stopped])
    assert gpus == [
        {
            "name": "nvidia/gpu/Tesla T4",
            "model": "Tesla T4",
            "memory": "16384 MiB",
            "instances": 3,
            "healthy": 2,
            "allocated": 1,
            "free": 1,
        }
    ]
    assert gpu_summary(gpus) == "3x Tesla T4 (16384 MiB): 2 healthy, 1 allocated, 1 free"


def versions(*specs):
    return [{"Version": v, "Stable": s} for v, s in specs]


def test_rollback_target_prefers_previous_stable_version():
    assert rollback_target(versions((5, False), (4, False), (3, True), (2, True)), None) == (5, 3)
    assert rollback_target(versions((5, True), (4, False)), 4) == (5, 4)
    with pytest.raises(Conflict, match="no earlier stable version"):
        rollback_target(versions((1, True), (0, False)), None)
    with pytest.raises(NotFound, match="version 7 is not retained") as caught:
        rollback_target(versions((1, True), (0, False)), 7)
    assert caught.value.hint == "available: 0, 1"
    with pytest.raises(Conflict, match="already the current"):
        rollback_target(versions((1, True), (0, False)), 1)


def test_choose_alloc_by_prefix_or_newest_running():
    allocs = [
        {"ID": "aaa1", "CreateTime": 1, "DesiredStatus": "run", "ClientStatus": "running"},
        {"ID": "aab2", "CreateTime": 3, "DesiredStatus": "stop", "ClientStatus": "failed"},
        {"ID": "bbb3", "CreateTime": 2, "DesiredStatus": "run", "ClientStatus": "running"},
    ]
    assert choose_alloc(allocs, None)["ID"] == "bbb3"
    assert choose_alloc(allocs, "aab")["ID"] == "aab2"
    with pytest.raises(InvalidInput, match="ambiguous"):
        choose_alloc(allocs, "aa")
    with pytest.raises(NotFound):
        choose_alloc(allocs, "zz")


def test_model_names_are_checked_before_any_request():
    assert job_id("iris") == "mlctl-iris"
    with pytest.raises(InvalidInput):
        job_id("../etc")
