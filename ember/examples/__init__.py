"""Runnable examples: ``python -m ember.examples.mnist`` (the main job) and
``python -m ember.examples.mnist_hogwild``."""
