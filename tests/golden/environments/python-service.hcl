# Rendered by mlctl env create. Edit the environment spec or the app's config, not this file.
job "mlctl-shop" {
  namespace   = "team-a"
  type        = "service"
  datacenters = ["dc1"]

  meta = {
    "managed-by" = "mlctl"
    "mlctl.bundle_sha256" = "abababababababababababababababababababababababababababababababab"
    "mlctl.deployed_by" = "alice"
    "mlctl.env" = "shop"
    "mlctl.kind" = "app"
    "mlctl.model" = "shop"
    "mlctl.owner" = "alice"
    "mlctl.template" = "python-service"
    "mlctl.version" = "1.2"
  }

  group "model" {
    count = 2

    network {
      port "http" {
      }
    }

    ephemeral_disk {
      size = 512
    }

    service {
      name     = "shop"
      provider = "nomad"
      port     = "http"
      tags     = ["mlctl", "model=shop", "version=1.2", "app"]

      check {
        type     = "http"
        path     = "/"
        interval = "10s"
        timeout  = "2s"
      }
    }

    update {
      max_parallel      = 1
      canary            = 0
      health_check      = "checks"
      min_healthy_time  = "10s"
      healthy_deadline  = "5m"
      progress_deadline = "10m"
      auto_revert       = true
      auto_promote      = false
    }

    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    reschedule {
      delay          = "30s"
      delay_function = "exponential"
      max_delay      = "10m"
      unlimited      = true
    }

    task "server" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "set -eu\ncd \"$NOMAD_TASK_DIR\"\nif [ -s requirements.txt ]; then\n  \"$MLCTL_PYTHON\" -m venv --system-site-packages \"$NOMAD_ALLOC_DIR/venv\"\n  \"$NOMAD_ALLOC_DIR/venv/bin/python\" -m pip install --quiet --no-input -r requirements.txt\n  MLCTL_PYTHON=\"$NOMAD_ALLOC_DIR/venv/bin/python\"\nfi\nif [ -d app ]; then cd app; fi\ncase \"$1\" in python|python3) shift; set -- \"$MLCTL_PYTHON\" \"$@\" ;; esac\nexec \"$@\"\n", "mlctl-env", "python", "-m", "http.server", "$\u007bNOMAD_PORT_http}"]
      }

      artifact {
        source      = "https://store/apps/shop-app/x.tar.gz"
        destination = "local/app"
        mode        = "dir"
        options {
          checksum = "sha256:abababababababababababababababababababababababababababababababab"
        }
      }

      env = {
        "MLCTL_ENV_NAME" = "shop"
        "MLCTL_PYTHON" = "/usr/bin/python3"
        "PYTHONUNBUFFERED" = "1"
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }
}
