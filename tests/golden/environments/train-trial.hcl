# Rendered by mlctl train. One run; `mlctl train status` follows it.
job "mlctl-train-20261130-101500-ab12" {
  namespace   = "team-a"
  type        = "batch"
  datacenters = ["dc1"]

  meta = {
    "managed-by" = "mlctl"
    "mlctl.dataset_sha256" = "abababababababababababababababababababababababababababababababab"
    "mlctl.metric" = "accuracy"
    "mlctl.owner" = "alice"
    "mlctl.target" = "label"
    "mlctl.task" = "classification"
    "mlctl.train_run" = "20261130-101500-ab12"
  }

  parameterized {
    payload       = "forbidden"
    meta_required = ["candidate", "budget", "seed"]
  }

  group "trial" {
    count = 1

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

    task "trial" {
      driver = "docker"

      config {
        image   = "mlctl-runtime:latest"
        command = "python"
        args    = ["-m", "mlctl.train.trial"]
        runtime = "nvidia"
      }

      artifact {
        source      = "https://store/datasets/abababababababababababababababababababababababababababababababab.csv"
        destination = "local/dataset.csv"
        mode        = "file"
        options {
          checksum = "sha256:abababababababababababababababababababababababababababababababab"
        }
      }

      template {
        data        = "{{ with nomadVar \"nomad/jobs/mlctl-train-20261130-101500-ab12\" }}MLCTL_ARTIFACT_STORE_USER={{ .store_user }}\nMLCTL_ARTIFACT_STORE_PASSWORD={{ .store_password }}\n{{ end }}"
        destination = "secrets/store.env"
        env         = true
        change_mode = "noop"
      }

      env = {
        "MLCTL_ARTIFACT_STORE" = "https://store/models"
        "MLCTL_TRAIN_DATASET" = "$\u007bNOMAD_TASK_DIR}/dataset.csv"
        "MLCTL_TRAIN_HOLDOUT" = "0.2"
        "MLCTL_TRAIN_MAX_ITER" = "5"
        "MLCTL_TRAIN_METRIC" = "accuracy"
        "MLCTL_TRAIN_RUN" = "20261130-101500-ab12"
        "MLCTL_TRAIN_TARGET" = "label"
        "MLCTL_TRAIN_TASK" = "classification"
        "MLCTL_TRAIN_THREADS" = "1"
        "PYTHONUNBUFFERED" = "1"
      }

      resources {
        cpu    = 1000
        memory = 2048

        device "nvidia/gpu" {
          count = 1
        }
      }
    }
  }
}
