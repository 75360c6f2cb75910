# nomad-viewer: read-only Nomad ACL policy (mlctl status, history, nodes).
#
# "read" on a namespace means list-jobs, read-job, parse-job and reading scaling
# state; no submit, scale, stop, logs or exec.
namespace "*" {
  policy = "read"

  # What the monitor publishes (mlctl alerts, mlctl events); a coarse policy gives no
  # Variables, so these two are granted by path.
  variables {
    path "mlctl/monitor/alerts" {
      capabilities = ["read"]
    }
    path "mlctl/monitor/events" {
      capabilities = ["read"]
    }
    # Schedules (mlctl schedule list/show/next).
    path "mlctl/schedules/*" {
      capabilities = ["read", "list"]
    }
    # Who acknowledged or silenced an alert (mlctl tui); viewers change nothing.
    path "mlctl/alerts/notes/*" {
      capabilities = ["read", "list"]
    }
  }
}

node {
  policy = "read"
}
