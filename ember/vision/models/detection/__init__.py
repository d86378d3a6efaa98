"""Detection models (torchvision.models.detection)."""
