# Rendered by mlctl env create. Edit the environment spec, not this file.
job "mlctl-env-etl" {
  namespace   = "team-a"
  type        = "batch"
  datacenters = ["dc1"]

  meta = {
    "managed-by" = "mlctl"
    "mlctl.env" = "etl"
    "mlctl.owner" = "alice"
    "mlctl.template" = "python-batch"
  }

  group "env" {
    count = 1

    network {
      port "metrics" {
        to     = 9100
      }
    }

    ephemeral_disk {
      size = 1024
    }

    restart {
      attempts = 0
      interval = "24h"
      delay    = "15s"
      mode     = "fail"
    }

    reschedule {
      attempts  = 0
      unlimited = false
    }

    task "python" {
      driver = "docker"

      config {
        image   = "python:3.11-slim"
        ports   = ["metrics"]
        command = "/bin/sh"
        args    = ["-c", "set -eu\ncd \"$NOMAD_TASK_DIR\"\nif [ -s requirements.txt ]; then\n  \"$MLCTL_PYTHON\" -m venv --system-site-packages \"$NOMAD_ALLOC_DIR/venv\"\n  \"$NOMAD_ALLOC_DIR/venv/bin/python\" -m pip install --quiet --no-input -r requirements.txt\n  MLCTL_PYTHON=\"$NOMAD_ALLOC_DIR/venv/bin/python\"\nfi\nif [ -d app ]; then cd app; fi\ncase \"$1\" in python|python3) shift; set -- \"$MLCTL_PYTHON\" \"$@\" ;; esac\nexec \"$@\"\n", "mlctl-env", "python", "run.py", "--day", "$\u007bNOMAD_META_day}"]
      }

      env = {
        "MLCTL_ENV_NAME" = "etl"
        "MLCTL_PYTHON" = "python"
        "PYTHONUNBUFFERED" = "1"
      }

      resources {
        cpu    = 1000
        memory = 1024
      }
    }
  }
}
