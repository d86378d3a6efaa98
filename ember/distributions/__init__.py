"""``ember.distributions``: the probability distributions PyTorch examples use most."""
from ember.distributions.distributions import (Bernoulli, Categorical,  # noqa: F401
                                               Distribution, Normal, Uniform, kl_divergence)
