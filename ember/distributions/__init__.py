"""``ember.distributions``: the probability distributions PyTorch examples use most."""
from ember.distributions.distributions import (  # noqa: F401
                                               Bernoulli,
                                               Categorical,
                                               Distribution,
                                               Normal,
                                               Uniform,
                                               kl_divergence,
)
