# nomad-operator: Nomad ACL policy of cluster operators (Vault role of admins is a
# management token instead; see mlctl/vault/roles.py).
#
# Write in every namespace (deploy, scale, stop, exec, logs), write on nodes (drain,
# eligibility), and read-only views of agents, operator/raft state and plugins.
namespace "*" {
  policy = "write"

  # Notes on alerts from mlctl tui (acknowledged by whom, silenced until), spelled out:
  # Variables need their own grant.
  variables {
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
