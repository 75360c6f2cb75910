# mlctl-monitor: the service identity of the monitor loop (AppRole mlctl-monitor).
#
# The monitor logs in with its role-id and secret-id, gets a Nomad token with the
# nomad-monitor policy (read everywhere, scale-job for schedules), and keeps both alive.
# It is a machine: it has no per-user policy, so its credential path is granted here.

path "nomad/creds/mlctl-monitor" {
  capabilities = ["read"]
}
# JWT mode (OpenBao, or Vault without the Nomad engine): an identity token whose claims
# say role "monitor", exchanged at Nomad's /v1/acl/login for the mlctl-monitor role.
path "identity/oidc/token/mlctl-monitor" {
  capabilities = ["read"]
}
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
