# mlctl-admin: the Vault side of an mlctl administrator.
#
# Administrators run `mlctl vault bootstrap` again after the first (root-token) run and
# manage users with `mlctl user ...`. They can write policies, so they can in principle
# grant themselves more; that is inherent to the role. Keep the number of admins small
# and everything else out of this policy: no secrets engines other than nomad/ (and
# mlctl's identity-token key and roles), no audit devices, no seal/unseal, no token creation for others.

# --- mlctl bootstrap: auth methods and the nomad/ mount ---------------------------------
# Listing shows what is already in place (bootstrap is idempotent).
path "sys/auth" {
  capabilities = ["read"]
}
# Enabling an auth method is root-protected: it needs sudo on the exact path.
path "sys/auth/userpass" {
  capabilities = ["create", "update", "read", "sudo"]
}
path "sys/auth/approle" {
  capabilities = ["create", "update", "read", "sudo"]
}
path "sys/mounts" {
  capabilities = ["read"]
}
path "sys/mounts/nomad" {
  capabilities = ["create", "update", "read"]
}

# Which way Nomad logins can work here: is the Nomad secrets engine in the catalog?
# (OpenBao has none.) Reading a catalog entry is root-protected.
path "sys/plugins/catalog/secret/nomad" {
  capabilities = ["read", "sudo"]
}

# --- JWT mode: Vault's identity tokens, exchanged at Nomad's JWT auth method ----------
# One signing key for mlctl, one token role per user (and the monitor's).
path "identity/oidc/key/mlctl" {
  capabilities = ["create", "read", "update"]
}
path "identity/oidc/role" {
  capabilities = ["list"]
}
path "identity/oidc/role/mlctl-*" {
  capabilities = ["create", "read", "update", "delete"]
}
# Model callers (issue 15): the key signing model tokens (both modes); the token roles
# mlctl-call-user-* / mlctl-call-app-* are covered by identity/oidc/role/mlctl-* above.
path "identity/oidc/key/mlctl-models" {
  capabilities = ["create", "read", "update"]
}

# --- policies: only mlctl's own names ---------------------------------------------------
path "sys/policies/acl" {
  capabilities = ["list"]
}
path "sys/policies/acl/mlctl-*" {
  capabilities = ["create", "read", "update", "delete"]
}

# --- users and the monitor's AppRole ---------------------------------------------------
path "auth/userpass/users" {
  capabilities = ["list"]
}
path "auth/userpass/users/*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "auth/approle/role/mlctl-monitor" {
  capabilities = ["create", "read", "update"]
}
path "auth/approle/role/mlctl-monitor/*" {
  capabilities = ["create", "read", "update"]
}
# Applications that call models (mlctl access app): their AppRoles, role-ids and
# (response-wrapped) secret-ids; the glob covers .../role-id and .../secret-id.
path "auth/approle/role" {
  capabilities = ["list"]
}
path "auth/approle/role/mlctl-app-*" {
  capabilities = ["create", "read", "update", "delete"]
}

# --- the Nomad secrets engine: configuration and roles, never other users' creds ------
path "nomad/config/*" {
  capabilities = ["create", "read", "update"]
}
path "nomad/role" {
  capabilities = ["list"]
}
path "nomad/role/*" {
  capabilities = ["create", "read", "update", "delete"]
}

# --- removing a user revokes everything it holds ----------------------------------------
# revoke-prefix is root-protected (sudo). Scoped to Nomad credentials and userpass logins.
path "sys/leases/revoke-prefix/nomad/creds/*" {
  capabilities = ["update", "sudo"]
}
path "sys/leases/revoke-prefix/auth/userpass/login/*" {
  capabilities = ["update", "sudo"]
}

# --- its own token, like every mlctl user -----------------------------------------------
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
path "sys/capabilities-self" {
  capabilities = ["update"]
}
