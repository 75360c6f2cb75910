"""Run the Vault simulator standalone: ``python -m tests.simulators.vault --port 8200``."""

from __future__ import annotations

import argparse
import time

from tests.simulators.vault.server import VaultSimulator


def main() -> None:
    parser = argparse.ArgumentParser(description="In-memory Vault API simulator (dev mode).")
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--root-token", help="root token to use (default: random)")
    parser.add_argument("--tls-cert", help="PEM certificate: serve HTTPS")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    args = parser.parse_args()
    sim = VaultSimulator(root_token=args.root_token)
    address = sim.start(args.port, args.tls_cert, args.tls_key)
    print(f"Vault simulator listening on {address}", flush=True)
    print(f"Root Token: {sim.root_token}", flush=True)
    print(f"  export VAULT_ADDR={address} VAULT_TOKEN=<the root token>", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
