# nomad-operator: Nomad ACL policy of cluster operators (Vault role of admins is a
# management token instead; see mlctl/vault/roles.py).
#
# Write in every namespace (deploy, scale, stop, exec, logs), write on nodes (drain,
# eligibility), and read-only views of agents, operator/raft state and plugins.
namespace "*" {
  policy = "write"

  # Variables are granted by path (a coarse policy gives none): what the monitor
  # publishes (mlctl alerts, mlctl events), and the monitor job's own Variable where
  # mlctl vault monitor-credentials hands it its AppRole credentials.
  variables {
    path "mlctl/monitor/alerts" {
      capabilities = ["read"]
    }
    path "mlctl/monitor/events" {
      capabilities = ["read"]
    }
    path "nomad/jobs/mlctl-monitor" {
      capabilities = ["read", "write"]
    }
    # Every model's start/stop schedule (mlctl schedule ...).
    path "mlctl/schedules/*" {
      capabilities = ["read", "list", "write", "destroy"]
    }
    # Notes on alerts from mlctl tui: acknowledged by whom, silenced until when.
    path "mlctl/alerts/notes/*" {
      capabilities = ["read", "list", "write", "destroy"]
    }
  }
}

node {
  policy = "write"
}

agent {
  policy = "read"
}

operator {
  policy = "read"
}

plugin {
  policy = "read"
}
