from services.common.migrations_env import run
from services.notify.storage import metadata

run(metadata)
