"""One association strategy per tracker mode (see :mod:`.base`), each with its settings."""
from finetrack.tracker.association.base import Association
from finetrack.tracker.association.botsort import BotSortAssociation, BotSortSettings
from finetrack.tracker.association.byte import ByteAssociation
from finetrack.tracker.association.finetrack import FineTrackAssociation, FineTrackSettings
from finetrack.tracker.association.jde import JDEAssociation, JDESettings
from finetrack.tracker.association.robust import RobustAssociation, RobustSettings

#: tracker.mode -> its strategy class
ASSOCIATIONS = {cls.name: cls for cls in (ByteAssociation, FineTrackAssociation, JDEAssociation,
                                          RobustAssociation, BotSortAssociation)}
MODES = tuple(ASSOCIATIONS)

__all__ = ["ASSOCIATIONS", "MODES", "Association",
           "BotSortAssociation", "BotSortSettings", "ByteAssociation", "FineTrackAssociation",
           "FineTrackSettings", "JDEAssociation", "JDESettings", "RobustAssociation",
           "RobustSettings"]
