# Rendered by mlctl. Edit the bundle's mlctl.yaml or the deploy flags, not this file.
job "mlctl-iris" {
  namespace   = "default"
  type        = "service"
  datacenters = ["dc1", "dc2"]
  node_pool   = "gpu-pool"

  meta = {
    "managed-by" = "mlctl"
    "mlctl.bundle_sha256" = "3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f"
    "mlctl.model" = "iris"
    "mlctl.version" = "1.2.0"
  }

  constraint {
    attribute = "${node.class}"
    value     = "gpu-t4"
  }

  group "model" {
    count = 3

    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name     = "iris"
      provider = "nomad"
      port     = "http"
      tags     = ["mlctl", "model=iris", "version=1.2.0"]

      check {
        type     = "http"
        path     = "/readyz"
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
      driver = "docker"

      config {
        image      = "mlctl/runtime:0.1.0-cuda"
        entrypoint = ["mlctl"]
        args       = ["serve", "/local/bundle", "--host", "0.0.0.0", "--port", "${NOMAD_PORT_http}"]
        ports      = ["http"]
        runtime    = "nvidia"
      }

      # SIGTERM starts the server's drain (serving.drain_timeout_s); Nomad's default 5 s
      # would cut it short. Clients cap this at their max_kill_timeout (default 30 s).
      # raw_exec's default kill signal is SIGINT: name SIGTERM for both drivers.
      kill_signal  = "SIGTERM"
      kill_timeout = "30s"

      artifact {
        source      = "https://store.example.com/models/iris/3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f.tar.gz"
        destination = "local/bundle"
        options {
          checksum = "sha256:3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f"
        }
      }

      env = {
        "MLCTL_BUNDLE_SHA256" = "3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f"
        "MLCTL_MODEL_NAME" = "iris"
        "MLCTL_MODEL_VERSION" = "1.2.0"
        "PYTHONUNBUFFERED" = "1"
      }

      resources {
        cpu    = 500
        memory = 512

        device "nvidia/gpu" {
          count = 1
        }
      }
    }
  }
}
