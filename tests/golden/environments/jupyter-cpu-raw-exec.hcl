# Rendered by mlctl env create. Edit the environment spec, not this file.
job "mlctl-env-nb" {
  namespace   = "team-a"
  type        = "service"
  datacenters = ["dc1"]

  meta = {
    "managed-by" = "mlctl"
    "mlctl.env" = "nb"
    "mlctl.owner" = "alice"
    "mlctl.template" = "jupyter-cpu"
  }

  group "env" {
    count = 1

    network {
      port "http" {
      }
    }

    ephemeral_disk {
      size = 1024
    }

    service {
      name     = "nb-jupyter"
      provider = "nomad"
      port     = "http"
      tags     = ["mlctl", "env=nb", "jupyter"]

      check {
        type     = "http"
        path     = "/api"
        interval = "10s"
        timeout  = "2s"
      }
    }

    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    task "jupyter" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "set -eu\ncd \"$NOMAD_TASK_DIR\"\nif [ -s requirements.txt ]; then\n  \"$MLCTL_PYTHON\" -m venv --system-site-packages \"$NOMAD_ALLOC_DIR/venv\"\n  \"$NOMAD_ALLOC_DIR/venv/bin/python\" -m pip install --quiet --no-input -r requirements.txt\n  MLCTL_PYTHON=\"$NOMAD_ALLOC_DIR/venv/bin/python\"\nfi\nif [ -d app ]; then cd app; fi\ncase \"$1\" in python|python3) shift; set -- \"$MLCTL_PYTHON\" \"$@\" ;; esac\nexec \"$@\"\n", "mlctl-env", "python", "-m", "notebook", "--no-browser", "--ip=127.0.0.1", "--port=$\u007bNOMAD_PORT_http}", "--allow-root"]
      }

      template {
        data        = "{{ with nomadVar \"nomad/jobs/mlctl-env-nb\" }}JUPYTER_TOKEN={{ .jupyter_token }}\n{{ end }}"
        destination = "secrets/jupyter.env"
        env         = true
        change_mode = "restart"
      }

      env = {
        "MLCTL_ENV_NAME" = "nb"
        "MLCTL_PYTHON" = "/usr/bin/python3"
        "PYTHONUNBUFFERED" = "1"
      }

      resources {
        cpu    = 1000
        memory = 2048
      }
    }
  }
}
