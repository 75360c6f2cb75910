"""The placement explainer on AllocMetric shapes from Nomad's docs and scheduler."""

from __future__ import annotations

from mlctl.explain import GroupAsk, ask_of, explain_failures, explain_placement

GPU_GROUP = {
    "Name": "model",
    "Tasks": [
        {
            "Name": "server",
            "Resources": {
                "CPU": 1000,
                "MemoryMB": 2048,
                "Devices": [
                    {
                        "Name": "nvidia/gpu",
                        "Count": 1,
                        "Constraints": [
                            {
                                "LTarget": "${device.attr.memory}",
                                "Operand": ">=",
                                "RTarget": "16384 MiB",
                            }
                        ],
                    }
                ],
            },
        }
    ],
}


def test_ask_sums_tasks_and_reads_device_constraints():
    ask = ask_of(GPU_GROUP)
    assert (ask.cpu, ask.memory) == (1000, 2048)
    assert ask.devices[0].describe() == "1 free nvidia/gpu with memory >= 16384 MiB"


def test_gpus_exhausted_on_gpu_nodes_and_cpu_node_filtered():
    metric = {
        "NodesEvaluated": 3,
        "NodesFiltered": 1,
        "NodesInPool": 3,
        "NodesAvailable": {"dc1": 3},
        "ConstraintFiltered": {"missing devices": 1},
        "NodesExhausted": 2,
        "DimensionExhausted": {"devices: no devices match request": 2},
        "CoalescedFailures": 0,
    }
    explanation = explain_placement("model", metric, ask_of(GPU_GROUP))
    assert explanation.text == (
        "group model: 1 allocation cannot be placed: "
        "no node has 1 free nvidia/gpu with memory >= 16384 MiB: "
        "devices exhausted on 2 of 2 nodes, "
        "1 node filtered: has no nvidia/gpu with memory >= 16384 MiB"
    )
    assert "mlctl nodes" in explanation.hint


def test_cpu_exhaustion_from_the_docs_sample():
    # The FailedTGAllocs sample of jobs.mdx "Create Job Plan".
    metric = {
        "CoalescedFailures": 3,
        "NodesEvaluated": 1,
        "NodesFiltered": 0,
        "NodesAvailable": {"dc1": 1},
        "NodesInPool": 1,
        "ClassFiltered": None,
        "ConstraintFiltered": None,
        "NodesExhausted": 1,
        "ClassExhausted": None,
        "DimensionExhausted": {"cpu": 1},
    }
    explanation = explain_placement("cache", metric, GroupAsk(cpu=4000, memory=256))
    assert explanation.summary == "no node has 4000 MHz CPU free"
    assert explanation.reasons == ["CPU exhausted (needs 4000 MHz) on 1 of 1 node"]
    assert explanation.how_many == "4 allocations cannot be placed"


def test_memory_and_cpu_exhausted_together():
    metric = {
        "NodesEvaluated": 2,
        "NodesExhausted": 2,
        "DimensionExhausted": {"cpu": 1, "memory": 1},
    }
    explanation = explain_placement("model", metric, GroupAsk(cpu=500, memory=64000))
    assert explanation.summary == "no node has 500 MHz CPU and 64000 MiB memory free"
    assert "memory exhausted (needs 64000 MiB) on 1 of 2 nodes" in explanation.reasons


def test_no_ready_nodes_in_the_datacenter():
    metric = {"NodesEvaluated": 0, "NodesInPool": 2, "NodesAvailable": {"dc2": 0}}
    explanation = explain_placement("model", metric, GroupAsk())
    assert explanation.summary == "no ready client node in the job's datacenters and node pool"
    assert explanation.reasons == ["2 nodes in the pool, ready per datacenter: dc2: 0"]
    assert "MLCTL_DATACENTERS" in explanation.hint


def test_constraint_and_class_filtering_without_resources():
    metric = {
        "NodesEvaluated": 3,
        "NodesFiltered": 3,
        "ConstraintFiltered": {"${node.class} = gpu-a100": 2, "missing drivers": 1},
        "ClassFiltered": {"cpu-small": 2},
    }
    explanation = explain_placement("model", metric, GroupAsk(cpu=100, memory=64))
    assert explanation.summary == "no node matches the job's requirements"
    assert explanation.reasons == [
        "2 nodes filtered: constraint ${node.class} = gpu-a100",
        "1 node filtered: task driver (docker) not available",
        "2 nodes of class cpu-small filtered",
    ]


def test_unknown_dimension_is_passed_through_verbatim():
    metric = {
        "NodesEvaluated": 1,
        "NodesExhausted": 1,
        "DimensionExhausted": {"network: port collision": 1},
    }
    assert explain_placement("g", metric).reasons == ["network: port collision on 1 of 1 node"]


def test_failures_use_each_groups_ask_and_tolerate_unknown_groups():
    failed = {
        "model": {
            "NodesEvaluated": 2,
            "NodesExhausted": 2,
            "DimensionExhausted": {"devices: no devices match request": 2},
        },
        "other": {"NodesEvaluated": 1, "NodesExhausted": 1, "DimensionExhausted": {"memory": 1}},
    }
    explanations = explain_failures(failed, [GPU_GROUP])
    assert [e.group for e in explanations] == ["model", "other"]
    assert explanations[0].summary.startswith("no node has 1 free nvidia/gpu")
    assert explanations[1].summary == "no node has enough memory free"
    assert explain_failures(None) == []


def test_a_partial_placement_says_how_many_of_the_count_cannot_be_placed():
    # plan of 3 replicas with 1 GPU each on a cluster with 2 free GPUs: the third fails.
    metric = {
        "NodesEvaluated": 3,
        "NodesFiltered": 1,
        "ConstraintFiltered": {"missing devices": 1},
        "NodesExhausted": 2,
        "DimensionExhausted": {"devices: no devices match request": 2},
        "CoalescedFailures": 0,
    }
    group = {**GPU_GROUP, "Count": 3}
    (explanation,) = explain_failures({"model": metric}, [group])
    assert explanation.text.startswith("group model: 1 of 3 allocations cannot be placed: ")
    assert explanation.wanted == 3 and explanation.unplaced == 1
    all_failed = explain_placement("model", {**metric, "CoalescedFailures": 2}, wanted=3)
    assert all_failed.how_many == "3 of 3 allocations cannot be placed"
