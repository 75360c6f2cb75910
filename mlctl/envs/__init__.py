"""Environments: Jupyter workspaces, batch runs and apps as Nomad jobs from templates.

``spec`` (the YAML a user writes) and ``seed`` (seed 001's JSON contract) are read by
``load``, checked against the template ``catalog``, rendered by ``render`` and run by
``ops``; ``token`` keeps a workspace's secret in a Nomad Variable, ``app`` packages an
application directory with the bundle machinery's safety rules.
"""
