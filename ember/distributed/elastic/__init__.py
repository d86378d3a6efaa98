"""``torch.distributed.elastic``: the error-reporting part that training scripts use
(``multiprocessing.errors.record``). ember's launcher (``ember.distributed.run``) starts ranks
through mpiexec and does not restart them, so the elastic agent itself is not here."""
