# nomad-monitor: Nomad ACL policy of the monitor loop (AppRole mlctl-monitor).
#
# It follows the event stream and reads jobs, allocations and nodes everywhere, and it
# applies start/stop schedules and scale rules, which needs scale-job. Nothing else:
# it never submits, stops or execs into jobs.
namespace "*" {
  policy       = "read"
  capabilities = ["scale-job"]
  # The schedules it applies (read only: people change them, the monitor never does).
  variables {
    path "mlctl/schedules/*" {
      capabilities = ["read", "list"]
    }
  }
}

node {
  policy = "read"
}
