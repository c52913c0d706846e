"""What the notebooks report: claims tables, figures, the outputs of a run and the figures index."""
