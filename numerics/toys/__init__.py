"""Small stand-in problems: a tiny tanh MLP trained with inverse-time schedules (:mod:`.mlp`)."""
