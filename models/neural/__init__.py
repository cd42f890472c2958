"""Neural global forecasters. Importing this package does not import torch; fitting does."""

from models.neural.deepar import DeepAR
from models.neural.mlp import MLPQuantile

__all__ = ["DeepAR", "MLPQuantile"]
