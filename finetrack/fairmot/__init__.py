"""FairMOT one-shot baseline: config schema, builders and trainer (model in
:mod:`finetrack.models.fairmot`, targets in :mod:`finetrack.data.fairmot_targets`, losses in
:mod:`finetrack.losses.fairmot`)."""
