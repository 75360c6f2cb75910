# mlctl-viewer: the Vault side of a read-only user (dashboards, on-call, auditors).
#
# Like every mlctl user it manages only its own token; its Nomad credentials (read-only,
# policy nomad-viewer) come from the per-user policy mlctl-user-<name>.

path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
path "sys/leases/renew" {
  capabilities = ["update"]
}
# Which Nomad login path this token has (secrets engine or identity token): mlctl login
# asks before it reads one.
path "sys/capabilities-self" {
  capabilities = ["update"]
}
