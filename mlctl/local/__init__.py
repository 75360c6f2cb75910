"""``mlctl local``: a single-node runtime that speaks Nomad's HTTP API.

``engine`` holds the one implementation of that API (jobs, placement, deployments,
allocations, services, logs, events, variables, ACL).  The test suite drives it with
the simulated task driver; ``mlctl local`` runs tasks as real processes.
"""
