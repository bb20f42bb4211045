"""The MLflow pyfunc form of our trained classifiers (MLflow's "models from code": this file is
logged with each registered version and run when the version is loaded).

    mlflow.pyfunc.load_model("models:/cifar10_cnn@champion").predict(images)

`images` is an N×H×W×3 RGB uint8 array (or a list of such images of any size); each is fitted to the
model's input exactly as the app does it, and the answer is a DataFrame of class probabilities, one
column per label. It loads in this project's environment: it imports `core`.
"""

from __future__ import annotations

import json

import mlflow.pyfunc
import numpy as np


class ProjectClassifier(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from core import frameworks

        self.sidecar = json.loads(open(context.artifacts["sidecar"]).read())
        self.model = frameworks.keras().saving.load_model(context.artifacts["weights"], compile=False)

    def predict(self, context, model_input, params=None):
        import pandas as pd

        from core.models.preprocess import fit_to_input

        size, resize = self.sidecar["input_size"], self.sidecar.get("resize", "stretch")
        pixels = np.stack([fit_to_input(np.asarray(image, np.uint8), size, resize) for image in model_input])
        probabilities = np.asarray(self.model.predict(pixels.astype(np.float32), verbose=0))
        return pd.DataFrame(probabilities, columns=self.sidecar["labels"])


mlflow.models.set_model(ProjectClassifier())
