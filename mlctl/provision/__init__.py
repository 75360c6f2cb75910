"""Provisioning: run playbooks/ through ansible-runner and turn its events into progress.

``events`` is the pure part (runner event dicts in, per-host progress and a summary out),
``runner`` starts Ansible, ``display`` draws the live progress, ``vagrant`` wraps the
local test cluster.
"""
