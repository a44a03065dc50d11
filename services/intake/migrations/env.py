from services.common.migrations_env import run
from services.intake.storage import metadata

run(metadata)
