# nomad-viewer: read-only Nomad ACL policy (mlctl status, history, nodes).
#
# "read" on a namespace means list-jobs, read-job, parse-job and reading scaling
# state; no submit, scale, stop, logs or exec.
namespace "*" {
  policy = "read"

  # Viewers see who acknowledged or silenced an alert (mlctl tui), and change nothing.
  variables {
    path "mlctl/alerts/notes/*" {
      capabilities = ["read", "list"]
    }
  }
}

node {
  policy = "read"
}
