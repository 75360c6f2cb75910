"""Render bundles into Nomad jobs from the Jinja2 templates in ``jobspecs/``.

The public interface the deploy commands use::

    from mlctl.render import DeployOptions, job_id_for, render_model_job
"""

from __future__ import annotations

from mlctl.render.environment import TemplateError, make_environment, render_template
from mlctl.render.hcl import hcl_bool, hcl_int, hcl_list, hcl_string
from mlctl.render.model_job import (
    BUNDLE_DIR,
    GROUP_NAME,
    JOB_ID_PREFIX,
    MODEL_JOB_TEMPLATE,
    TASK_NAME,
    DeployOptions,
    UpdatePolicy,
    gpu_count,
    job_id_for,
    job_id_for_name,
    render_model_job,
    template_variables,
)

__all__ = [
    "BUNDLE_DIR",
    "GROUP_NAME",
    "JOB_ID_PREFIX",
    "MODEL_JOB_TEMPLATE",
    "TASK_NAME",
    "DeployOptions",
    "TemplateError",
    "UpdatePolicy",
    "gpu_count",
    "hcl_bool",
    "hcl_int",
    "hcl_list",
    "hcl_string",
    "job_id_for",
    "job_id_for_name",
    "make_environment",
    "render_model_job",
    "render_template",
    "template_variables",
]
