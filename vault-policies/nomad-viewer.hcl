# nomad-viewer: read-only Nomad ACL policy (mlctl status, history, nodes).
#
# "read" on a namespace means list-jobs, read-job, parse-job and reading scaling
# state; no submit, scale, stop, logs or exec.
namespace "*" {
  policy = "read"
  # A coarse policy grants no Nomad Variables; viewers may see schedules (schedule list).
  variables {
    path "mlctl/schedules/*" {
      capabilities = ["read", "list"]
    }
  }
}

node {
  policy = "read"
}
