# nomad-monitor: Nomad ACL policy of the monitor loop (AppRole mlctl-monitor).
#
# It follows the event stream and reads jobs, allocations, services and nodes
# everywhere ("read" also reads every Variable, e.g. mlctl/schedules/*). It acts only
# through what its opt-in actions and the schedules need: scale-job (schedules, scale
# rules) and alloc-lifecycle (restarting a crash-looping allocation). It keeps its own
# state, alerts and events in Variables under mlctl/monitor/.
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
    # Operators' notes on alerts from mlctl tui: who acknowledged, silenced until when.
    path "mlctl/alerts/notes/*" {
      capabilities = ["read", "list"]
    }
  }
}

node {
  policy = "read"
}
