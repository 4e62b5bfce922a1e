from tests.emulator.conftest import aws, emulator_endpoint  # noqa: F401
