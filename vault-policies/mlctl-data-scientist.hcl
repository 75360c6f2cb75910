# mlctl-data-scientist: the Vault side of a data scientist.
#
# A data scientist may mint only its own Nomad credentials and manage its own token;
# it reads nothing else in Vault. The credential path is granted by the per-user
# policy mlctl-user-<name> (mlctl-user.hcl.j2), one Vault policy per user written at
# `mlctl user add` time, rather than by one templated policy such as
#   path "nomad/creds/{{identity.entity.aliases.<userpass accessor>.name}}"
# because:
#   - a templated policy embeds the userpass mount accessor, which changes whenever
#     userpass is disabled and re-enabled, and then silently matches nobody;
#   - per-user policies work on every Vault version and need no identity entities;
#   - `mlctl user show` lists exactly which credential path a user may read.
# Deliberately absent: sys/leases/revoke (a token could revoke leases it does not own);
# `mlctl logout` uses revoke-self, which revokes the token's Nomad lease with it.

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
