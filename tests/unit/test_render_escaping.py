"""No user-supplied value can break out of its HCL string or be interpolated.

For arbitrary text (quotes, backslashes, newlines, ``${``, ``%{``, control characters,
unicode) placed in every string-valued template variable, the rendered job must parse
with python-hcl2, every value must parse back to exactly the original string, and the
document must hold exactly the interpolations the template itself writes.
"""

from __future__ import annotations

from typing import Any

import hcl2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlctl.errors import InvalidInput
from mlctl.render import (
    MODEL_JOB_TEMPLATE,
    hcl_bool,
    hcl_int,
    hcl_list,
    hcl_string,
    render_template,
    template_variables,
)
from tests.unit.render_cases import GOLDEN_CASES

NASTY_FRAGMENTS = [
    '"', "\\", "\n", "\r", "\t", "${", "%{", "$${", "%%{", "}", "{", "$", "%", "\x00",
    "\x1b", "\x7f", "\x85", "\u2028", "é", "☃", "😀", '"}', '\\"', "#", "//", "/*",
    "<<EOF\n", "${var.x}", "%{ if true }", "\\u007b", "= 1\n}", "\\n",
]  # fmt: skip

text = st.lists(
    st.one_of(
        st.sampled_from(NASTY_FRAGMENTS),
        st.text(st.characters(exclude_categories=("Cs",)), max_size=6),
    ),
    max_size=8,
).map("".join)


SERIALIZE = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)


def parse(rendered: str) -> tuple[dict[str, Any], list[str]]:
    """The document's values, and the source of every ``${…}``/``%{…}`` HCL would evaluate."""
    tree = hcl2.parses_to_tree(rendered)
    found = []
    for kind in ("interpolation", "template_if_start", "template_for_start"):
        for node in tree.find_data(kind):
            found.append(kind + ":" + "".join(str(t) for t in node.scan_values(lambda _: True)))
    return hcl2.serialize(hcl2.transform(tree), serialization_options=SERIALIZE), sorted(found)


def interpolations(rendered: str) -> list[str]:
    return parse(rendered)[1]


BASE_CONFIG, BASE_OPTIONS = GOLDEN_CASES["gpu"]
BASE = template_variables(BASE_CONFIG, BASE_OPTIONS)


def fuzzed_variables(values: dict[str, str]) -> dict[str, Any]:
    variables = {**BASE}
    for name in ("job_id", "namespace", "node_pool", "node_class", "image", "bundle_path"):
        variables[name] = values[name]
    variables["datacenters"] = [values["datacenter"], "dc2"]
    variables["meta"] = {**BASE["meta"], values["meta_key"]: values["meta_value"]}
    variables["env"] = {**BASE["env"], "USER_VALUE": values["env_value"]}
    variables["service"] = {**BASE["service"], "name": values["service_name"]}
    variables["service"]["tags"] = ["mlctl", values["tag"]]
    variables["artifact"] = {**BASE["artifact"], "source": values["artifact_source"]}
    variables["gpu"] = {**BASE["gpu"], "model": values["gpu_model"]}
    return variables


FIELDS = (
    "job_id", "namespace", "node_pool", "node_class", "image", "bundle_path", "datacenter",
    "meta_key", "meta_value", "env_value", "service_name", "tag", "artifact_source", "gpu_model",
)  # fmt: skip

# The same job with harmless values: what the template alone writes.
PLAIN = render_template(MODEL_JOB_TEMPLATE, fuzzed_variables(dict.fromkeys(FIELDS, "x")))
PLAIN_INTERPOLATIONS = interpolations(PLAIN)
PLAIN_LINES = len(PLAIN.splitlines())


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({name: text for name in FIELDS}))
def test_every_user_value_round_trips_and_nothing_is_interpolated(values: dict[str, str]) -> None:
    rendered = render_template(MODEL_JOB_TEMPLATE, fuzzed_variables(values))
    parsed, found = parse(rendered)

    [(job_id, job)] = parsed["job"][0].items()
    [(group_name, group)] = job["group"][0].items()
    [(task_name, task)] = group["task"][0].items()
    assert (job_id, group_name, task_name) == (values["job_id"], "model", "server")
    assert job["namespace"] == values["namespace"]
    assert job["node_pool"] == values["node_pool"]
    assert job["datacenters"] == [values["datacenter"], "dc2"]
    assert job["constraint"][0]["value"] == values["node_class"]
    assert job["meta"][values["meta_key"]] == values["meta_value"]
    assert job["meta"]["mlctl.model"] == "resnet"
    service = group["service"][0]
    assert service["name"] == values["service_name"]
    assert service["tags"] == ["mlctl", values["tag"]]
    config = task["config"][0]
    assert config["image"] == values["image"]
    assert config["args"][:2] == ["serve", values["bundle_path"]]
    assert config["args"][5] == "${NOMAD_PORT_http}"
    assert task["artifact"][0]["source"] == values["artifact_source"]
    assert task["env"]["USER_VALUE"] == values["env_value"]
    assert task["env"]["MLCTL_MODEL_NAME"] == "resnet"
    affinity = task["resources"][0]["device"][0]["nvidia/gpu"]["affinity"][0]
    assert affinity["value"] == values["gpu_model"]
    assert found == PLAIN_INTERPOLATIONS
    # Real HCL forbids raw line breaks in quoted strings (python-hcl2 is lenient): every
    # value must stay on its line, whatever Unicode considers a line break.
    assert len(rendered.splitlines()) == PLAIN_LINES


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", '"plain"'),
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("a\nb\rc\td", r'"a\nb\rc\td"'),
        ("${NOMAD_TOKEN}", r'"$\u007bNOMAD_TOKEN}"'),
        ("%{ if x }", r'"%\u007b if x }"'),
        ("$${", r'"$$\u007b"'),
        ("\x00\x1b\x7f", r'"\u0000\u001b\u007f"'),
        ("é☃😀", '"é☃😀"'),
    ],
)
def test_hcl_string_literals(value: str, literal: str) -> None:
    assert hcl_string(value) == literal


def test_template_sequences_would_interpolate_without_the_filter() -> None:
    """The check above can fail: an unescaped ``${`` is seen as an interpolation."""
    assert interpolations('a = "${NOMAD_TOKEN}"\n') != []
    assert interpolations(f"a = {hcl_string('${NOMAD_TOKEN}')}\n") == []


@pytest.mark.parametrize("value", [3, None, b"bytes", ["x"]])
def test_hcl_string_refuses_non_strings(value: object) -> None:
    with pytest.raises(TypeError, match="expects a string"):
        hcl_string(value)


def test_hcl_string_refuses_lone_surrogates() -> None:
    with pytest.raises(InvalidInput, match="surrogate"):
        hcl_string("a\ud800b")


@pytest.mark.parametrize("value", [True, 1.5, "3", None])
def test_hcl_int_refuses_non_integers(value: object) -> None:
    with pytest.raises(TypeError, match="expects an int"):
        hcl_int(value)


def test_hcl_int_and_bool_and_list() -> None:
    assert hcl_int(42) == "42"
    assert hcl_int(-1) == "-1"
    assert hcl_bool(True) == "true"
    assert hcl_bool(False) == "false"
    assert hcl_list(["a", 'b"']) == r'["a", "b\""]'
    with pytest.raises(TypeError):
        hcl_bool(1)
    with pytest.raises(TypeError):
        hcl_list("abc")
