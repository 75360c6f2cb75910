# mlctl-operator: the Vault side of a cluster operator.
#
# Operators run the cluster (deploy anywhere, drain nodes) through a Nomad token with
# the nomad-operator policy. In Vault they only log in and mint that token: the Nomad
# credentials themselves come from the per-user policy mlctl-user-<name>, written by
# `mlctl user add` (see mlctl-user.hcl.j2). User management is the admin's job.

path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
# Renew the lease of the Nomad token it holds (lease IDs are unguessable).
path "sys/leases/renew" {
  capabilities = ["update"]
}
# Which Nomad login path this token has (secrets engine or identity token): mlctl login
# asks before it reads one.
path "sys/capabilities-self" {
  capabilities = ["update"]
}
