"""Where the app keeps its settings (QSettings) and user files.

Settings are an INI file in the user's config location. Tests (and anyone who wants a
portable install) point everything at one folder with ``NNSTUDIO_HOME``, so the real user's
settings are never touched.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSettings, QStandardPaths

ORGANIZATION = "nnstudio"
APPLICATION = "nnstudio"


def configure_application_names() -> None:
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)


def settings_path() -> Path:
    """The INI file holding window geometry, recent files and preferences."""
    home = os.environ.get("NNSTUDIO_HOME")
    if home:
        return Path(home) / "settings.ini"
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation)
    return Path(folder or Path.home() / ".config" / APPLICATION) / "settings.ini"


def app_settings() -> QSettings:
    """A QSettings on ``settings_path()`` (INI format, never the registry or plist)."""
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return QSettings(str(path), QSettings.Format.IniFormat)
