# Rendered by mlctl monitor deploy. Change the flags or the monitor config, not this file.
job "mlctl-monitor" {
  namespace   = "ops"
  type        = "service"
  datacenters = ["dc1", "dc2"]

  meta = {
    "managed-by"      = "mlctl"
    "mlctl.component" = "monitor"
  }

  group "monitor" {
    count = 1

    network {
      port "http" {
        to = 9464
      }
    }

    service {
      name     = "mlctl-monitor"
      provider = "nomad"
      port     = "http"

      check {
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    update {
      max_parallel      = 1
      health_check      = "checks"
      min_healthy_time  = "10s"
      healthy_deadline  = "5m"
      progress_deadline = "10m"
      auto_revert       = true
    }

    restart {
      attempts = 10
      interval = "30m"
      delay    = "15s"
      mode     = "delay"
    }

    task "monitor" {
      driver = "docker"

      config {
        image      = "registry.example/mlctl:0.1.0-cpu"
        entrypoint = ["mlctl"]
        args       = ["monitor", "run", "--config", "${NOMAD_TASK_DIR}/monitor.yaml", "--listen", "0.0.0.0:9464", "--event-log", "${NOMAD_ALLOC_DIR}/data/events.jsonl"]
        ports      = ["http"]
      }

      # SIGTERM stops the monitor cleanly: it saves its state and publishes once more.
      kill_signal  = "SIGTERM"
      kill_timeout = "30s"

      env = {
        "NOMAD_ADDR" = "https://nomad.service:4646"
        "NOMAD_CACERT" = "/etc/mlctl/ca.pem"
        "VAULT_ADDR" = "https://vault.service:8200"
      }

      # The monitor's configuration (routing, receivers, thresholds), as given to deploy.
      template {
        destination = "local/monitor.yaml"
        change_mode = "restart"
        data        = "# mlctl monitor config, written by mlctl monitor deploy\nreceivers:\n- name: default\n  webhook:\n  - url: https://hooks.example/a\nroute:\n  group_by:\n  - model\n  receiver: default\n"
      }

      # Its AppRole credentials, written by `mlctl vault monitor-credentials` into this
      # job's own Nomad Variable (which only this job's tasks can read); they reach the
      # process as environment variables and are never part of the job itself.
      template {
        destination = "secrets/approle.env"
        env         = true
        change_mode = "restart"
        data        = "{{ with nomadVar \"nomad/jobs/mlctl-monitor\" }}MLCTL_MONITOR_ROLE_ID={{ .role_id }}\nMLCTL_MONITOR_SECRET_ID={{ .secret_id }}\n{{ end }}"
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
