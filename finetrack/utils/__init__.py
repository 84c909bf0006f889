"""Leaf utilities every layer may import: atomic writers (io.py), the CLI's error handling (cli.py),
the letterbox + normalisation (letterbox.py) and the one module that reads and writes checkpoints
(checkpoint.py). They import nothing else of finetrack beyond utils/."""
