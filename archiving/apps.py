from django.apps import AppConfig


class ArchivingConfig(AppConfig):
    """The Archive's domain code (plans, and later the store, journaling, retention). Its label
    stays "archive", the label the package had before the portal was split off: the tables
    (archive_archiveplan) and the migration history keep their names."""

    name = "archiving"
    label = "archive"
