# nomad-monitor: Nomad ACL policy of the monitor loop (AppRole mlctl-monitor).
#
# It follows the event stream and reads jobs, allocations, services and nodes
# everywhere. It acts only through what its opt-in actions and the schedules need:
# scale-job (schedules, scale rules) and alloc-lifecycle (restarting a crash-looping
# allocation). Variables are granted path by path (a coarse policy gives none): it keeps
# its own state, alerts and events under mlctl/monitor/ and reads the schedules.
#
# Not granted on purpose: submit-job. The "revert" action (rolling a failed deployment
# back to the last stable version) needs it; add "submit-job" to capabilities below only
# if you turn that action on, knowing it lets the monitor register any job.
namespace "*" {
  policy       = "read"
  capabilities = ["scale-job", "alloc-lifecycle"]

  variables {
    path "mlctl/monitor/*" {
      capabilities = ["read", "list", "write", "destroy"]
    }
    path "mlctl/schedules/*" {
      capabilities = ["read", "list"]
    }
    # Operators' notes on alerts (mlctl tui): acknowledged by whom, silenced until when;
    # the monitor does not notify a silenced alert until its silence ends.
    path "mlctl/alerts/notes/*" {
      capabilities = ["read", "list"]
    }
  }
}

node {
  policy = "read"
}
