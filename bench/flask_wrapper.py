"""A model wrapper the way seed 003 generates one: Flask's server, threaded, one file.

Seed 003 writes a ``WrapperClass.py`` that imports the bundle's contract, unpickles the
model and exposes /preprocess, /predict, /postprocess and /healthCheck, then runs it
with ``python3 WrapperClass.py``. This is that shape, on the same iris bundle, as the
"typical hand-rolled wrapper" baseline of the benchmark.

    python bench/flask_wrapper.py BUNDLE_DIR PORT
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import skops.io
from flask import Flask, jsonify, request


def build(bundle: Path) -> Flask:
    spec = importlib.util.spec_from_file_location("contract", bundle / "contract.py")
    assert spec is not None and spec.loader is not None
    contract = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(contract)
    model_file = bundle / "model.skops"
    model = skops.io.load(model_file, trusted=skops.io.get_untrusted_types(file=model_file))
    app = Flask(__name__)

    @app.route("/healthCheck")
    def health() -> Any:
        return jsonify({"status": "ok"})

    @app.route("/preprocess", methods=["POST"])
    def preprocess() -> Any:
        return jsonify({"features": contract.preprocess(request.get_json()).tolist()})

    @app.route("/predict", methods=["POST"])
    def predict() -> Any:
        features = contract.preprocess(request.get_json())
        return jsonify({"predictions": contract.postprocess(model.predict(features))})

    @app.route("/postprocess", methods=["POST"])
    def postprocess() -> Any:
        return jsonify({"predictions": contract.postprocess(request.get_json()["predictions"])})

    return app


if __name__ == "__main__":
    build(Path(sys.argv[1])).run(host="127.0.0.1", port=int(sys.argv[2]), threaded=True)
