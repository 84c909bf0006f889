"""Re-ID training and evaluation engine: loop, checkpoints, logging, GT-box evaluation."""
