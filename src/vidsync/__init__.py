"""vidsync: snapshots of project folders, with live progress for every client."""

from vidsync.models import ManifestEntry, ProgressEvent, Project, SnapshotRecord, Step

__version__ = "0.1.0"

__all__ = ["ManifestEntry", "ProgressEvent", "Project", "SnapshotRecord", "Step", "__version__"]
