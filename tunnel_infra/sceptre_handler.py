"""The ``troposphere`` Sceptre template handler: ``template: {type: troposphere, path: tables.py}``.

It calls the entry file's ``sceptre_handler(sceptre_user_data)`` as Sceptre's ``file`` handler does,
with two differences that matter here:
- each entry file is loaded under its own module name, without Sceptre's ``sys.path`` hack, so two
  stacks rendering in parallel threads never share a cached module;
- a bad ``sceptre_user_data`` ends in one line naming the config file and line that set the value
  (``config/dev/config.yaml:7: sceptre_user_data.memroy_mb is not a known setting; ...``), instead
  of a traceback: ConfigSettingsError is a SceptreException, which Sceptre's CLI prints as is.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from sceptre.exceptions import TemplateNotFoundError
from sceptre.template_handlers import TemplateHandler

from tunnel_infra.config_errors import ConfigSettingsError, settings_error_line
from tunnel_infra.settings import SettingsError

_modules: dict[Path, ModuleType] = {}
_modules_lock = threading.Lock()


class TroposphereHandler(TemplateHandler):
    """Renders a troposphere entry file from ``templates/``."""

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"path": {"type": "string", "pattern": r"^[a-z_]+\.py$"}},
            "required": ["path"],
            "additionalProperties": False,
        }

    def handle(self) -> str:
        project = Path(self.stack_group_config.get("project_path", "."))
        entry = load_entry_file(project / "templates" / self.arguments["path"])
        try:
            return entry.sceptre_handler(self.sceptre_user_data or {})
        except SettingsError as error:
            raise ConfigSettingsError(settings_error_line(project, self.name, error)) from None


def load_entry_file(path: Path) -> ModuleType:
    """Import a template entry file once, under a name of its own."""
    path = path.resolve()
    with _modules_lock:
        if path in _modules:
            return _modules[path]
        if not path.is_file():
            raise TemplateNotFoundError(f"No such template file: '{path}'")
        spec = importlib.util.spec_from_file_location(f"sceptre_templates.{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not callable(getattr(module, "sceptre_handler", None)):
            raise TemplateNotFoundError(f"{path} has no sceptre_handler(sceptre_user_data)")
        _modules[path] = module
        return module
