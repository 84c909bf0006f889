"""MOTChallenge data layer, synthetic sequences, Re-ID datasets and samplers."""
