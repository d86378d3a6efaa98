"""The pieces of ``ember.utils.benchmark``: ``common`` (Measurement), ``timer`` (Timer) and
``compare`` (Compare)."""
