# Rendered by mlctl env create. Edit the environment spec, not this file.
job "mlctl-env-nb" {
  namespace   = "team-a"
  type        = "service"
  datacenters = ["dc1"]

  meta = {
    "managed-by" = "mlctl"
    "mlctl.env" = "nb"
    "mlctl.owner" = "alice"
    "mlctl.template" = "jupyter-gpu"
  }

  group "env" {
    count = 1

    network {
      port "http" {
        to     = 8888
      }
    }

    ephemeral_disk {
      size = 6144
    }

    volume "imagenet" {
      type      = "host"
      source    = "imagenet"
      read_only = true
    }

    volume "storage_0" {
      type      = "host"
      source    = "alice-work"
      read_only = false
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
      driver = "docker"

      config {
        image   = "quay.io/jupyter/pytorch-notebook:cuda12-2024-12-09"
        ports   = ["http"]
        command = "/bin/sh"
        args    = ["-c", "set -eu\ncd \"$NOMAD_TASK_DIR\"\nif [ -s requirements.txt ]; then\n  \"$MLCTL_PYTHON\" -m venv --system-site-packages \"$NOMAD_ALLOC_DIR/venv\"\n  \"$NOMAD_ALLOC_DIR/venv/bin/python\" -m pip install --quiet --no-input -r requirements.txt\n  MLCTL_PYTHON=\"$NOMAD_ALLOC_DIR/venv/bin/python\"\nfi\nif [ -d app ]; then cd app; fi\ncase \"$1\" in python|python3) shift; set -- \"$MLCTL_PYTHON\" \"$@\" ;; esac\nexec \"$@\"\n", "mlctl-env", "python", "-m", "jupyterlab", "--no-browser", "--ip=0.0.0.0", "--port=$\u007bNOMAD_PORT_http}"]
        runtime = "nvidia"
      }

      artifact {
        source      = "https://store/datasets/iris.csv"
        destination = "local/datasets/iris"
        mode        = "any"
        options {
          checksum = "sha256:abababababababababababababababababababababababababababababababab"
        }
      }

      template {
        data        = "{{ with nomadVar \"nomad/jobs/mlctl-env-nb\" }}JUPYTER_TOKEN={{ .jupyter_token }}\n{{ end }}"
        destination = "secrets/jupyter.env"
        env         = true
        change_mode = "restart"
      }

      template {
        data        = "transformers>=4.40\n"
        destination = "local/requirements.txt"
        env         = false
        change_mode = "noop"
      }

      volume_mount {
        volume      = "imagenet"
        destination = "/data/imagenet"
        read_only   = true
      }

      volume_mount {
        volume      = "storage_0"
        destination = "/work"
        read_only   = false
      }

      env = {
        "MLCTL_ENV_NAME" = "nb"
        "MLCTL_PYTHON" = "python"
        "PYTHONUNBUFFERED" = "1"
      }

      resources {
        cpu    = 2000
        memory = 8192

        device "nvidia/gpu" {
          count = 2

          constraint {
            attribute = "${device.attr.memory}"
            operator  = ">="
            value     = "16384 MiB"
          }

          affinity {
            attribute = "${device.model}"
            value     = "Tesla T4"
            weight    = 50
          }
        }
      }
    }
  }
}
