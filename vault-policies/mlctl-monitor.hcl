# mlctl-monitor: the service identity of the monitor loop (AppRole mlctl-monitor).
#
# The monitor logs in with its role-id and secret-id, mints a Nomad token with the
# nomad-monitor policy (read everywhere, scale-job for schedules), and keeps both alive.
# It is a machine: it has no per-user policy, so its credential path is granted here.

path "nomad/creds/mlctl-monitor" {
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
