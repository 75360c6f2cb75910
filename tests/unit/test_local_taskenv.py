"""The raw_exec task environment: NOMAD_* variables, interpolation and the host deny list."""

from __future__ import annotations

from mlctl.local.engine.taskenv import (
    TaskPaths,
    host_environment,
    interpolate,
    interpolate_value,
    nomad_variables,
    task_environment,
)

NODE = {
    "ID": "node-1",
    "Name": "laptop",
    "Datacenter": "dc1",
    "NodeClass": "",
    "NodePool": "default",
    "Attributes": {"unique.network.ip-address": "127.0.0.1", "kernel.name": "linux"},
    "Meta": {"rack": "r1"},
}
PATHS = TaskPaths("/a/alloc", "/a/server", "/a/server/local", "/a/server/secrets", "/a/server/tmp")
ALLOC = {
    "ID": "5fc98185-17ff-26bc-a802-0c74fa471c99",
    "Name": "j.g[2]",
    "Index": 2,
    "Namespace": "ns",
}
JOB = {"ID": "train/dispatch-1-ab", "Name": "train/dispatch-1-ab", "ParentID": "train",
       "Region": "global", "Meta": {"run-id": "7", "team": "job"}}  # fmt: skip
GROUP = {"Name": "g", "Meta": {"team": "group"}}
TASK = {
    "Name": "server",
    "Resources": {"CPU": 500, "MemoryMB": 256, "MemoryMaxMB": 512},
    "Meta": {"team": "task"},
    "Env": {"GREETING": "on ${node.unique.name} port ${NOMAD_PORT_http}", "RACK": "${meta.rack}"},
}


def variables(ports=(), devices=()):
    return nomad_variables(ALLOC, JOB, GROUP, TASK, NODE, list(ports), list(devices), PATHS)


def test_identifiers_limits_and_directories():
    env = variables()
    assert env["NOMAD_ALLOC_ID"] == ALLOC["ID"]
    assert env["NOMAD_SHORT_ALLOC_ID"] == "5fc98185"
    assert env["NOMAD_ALLOC_NAME"] == "j.g[2]" and env["NOMAD_ALLOC_INDEX"] == "2"
    assert env["NOMAD_JOB_ID"] == "train/dispatch-1-ab" and env["NOMAD_JOB_PARENT_ID"] == "train"
    assert env["NOMAD_GROUP_NAME"] == "g" and env["NOMAD_TASK_NAME"] == "server"
    assert env["NOMAD_NAMESPACE"] == "ns" and env["NOMAD_DC"] == "dc1"
    assert env["NOMAD_CPU_LIMIT"] == "500" and env["NOMAD_MEMORY_LIMIT"] == "256"
    assert env["NOMAD_MEMORY_MAX_LIMIT"] == "512"
    assert env["NOMAD_ALLOC_DIR"] == "/a/alloc" and env["NOMAD_TASK_DIR"] == "/a/server/local"
    assert env["NOMAD_SECRETS_DIR"] == "/a/server/secrets"


def test_meta_merges_job_group_task_and_sanitises_keys():
    env = variables()
    assert env["NOMAD_META_team"] == "task"  # the task's meta wins
    assert env["NOMAD_META_run_id"] == "7" and env["NOMAD_META_RUN_ID"] == "7"


def test_ports_host_port_or_mapped_to():
    env = variables(
        ports=[
            {"Label": "http", "Value": 20001, "To": 0},
            {"Label": "metrics-port", "Value": 20002, "To": 9100},
        ]
    )
    assert env["NOMAD_PORT_http"] == "20001" and env["NOMAD_ADDR_http"] == "127.0.0.1:20001"
    assert env["NOMAD_IP_http"] == "127.0.0.1" and env["NOMAD_HOST_PORT_http"] == "20001"
    # a mapped port: the task listens on `to`, the host port is separate
    assert env["NOMAD_PORT_metrics_port"] == "9100"
    assert env["NOMAD_HOST_PORT_metrics_port"] == "20002"


def test_an_allocation_sees_only_its_gpus():
    env = variables(devices=[{"DeviceIDs": ["GPU-aaa", "GPU-bbb"]}])
    assert env["NVIDIA_VISIBLE_DEVICES"] == "GPU-aaa,GPU-bbb"
    assert env["CUDA_VISIBLE_DEVICES"] == "GPU-aaa,GPU-bbb"
    assert "CUDA_VISIBLE_DEVICES" not in variables()


def test_interpolation_of_env_node_attributes_and_unknowns():
    env = {"NOMAD_PORT_http": "20001", "HOME": "/home/u"}
    text = "${NOMAD_PORT_http} ${attr.kernel.name} ${meta.rack} ${node.datacenter} ${env.HOME}"
    assert interpolate(text, env, NODE) == "20001 linux r1 dc1 /home/u"
    assert interpolate("${NOMAD_PORT_missing} ${attr.nope}", env, NODE) == (
        "${NOMAD_PORT_missing} ${attr.nope}"
    )
    config = {"command": "python", "args": ["--port", "${NOMAD_PORT_http}"], "n": 3}
    assert interpolate_value(config, env, NODE) == {
        "command": "python",
        "args": ["--port", "20001"],
        "n": 3,
    }


def test_task_env_block_is_interpolated_over_the_nomad_variables():
    host = {
        "PATH": "/usr/bin",
        "NOMAD_TOKEN": "secret",
        "VAULT_ADDR": "x",
        "AWS_SECRET_ACCESS_KEY": "k",
    }
    env = task_environment(
        host, variables(ports=[{"Label": "http", "Value": 20001, "To": 0}]), TASK, NODE
    )
    assert env["GREETING"] == "on laptop port 20001"
    assert env["RACK"] == "r1"
    assert env["PATH"] == "/usr/bin"
    assert "NOMAD_TOKEN" not in env and "AWS_SECRET_ACCESS_KEY" not in env


def test_host_secrets_and_client_settings_are_not_inherited():
    kept = host_environment(
        {
            "PATH": "/bin",
            "NOMAD_ADDR": "a",
            "MLCTL_ARTIFACT_STORE_PASSWORD": "p",
            "CONSUL_HTTP_TOKEN": "t",
        }
    )
    assert kept == {"PATH": "/bin"}
